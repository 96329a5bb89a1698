"""Producing events to a Kafka topic (for `signalfire generate --topic` and the demo)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

IN_FLIGHT = 5000


async def produce_events(
    events: Iterable[dict[str, Any]],
    topic: str,
    options: dict[str, object],
    rate: float | None = None,
    clock: Callable[[], float] | None = None,
) -> int:
    """Send events keyed by org id; with `rate`, at most that many per second (wall clock)."""
    loop = asyncio.get_running_loop()
    now = clock or loop.time
    producer = AIOKafkaProducer(**options, linger_ms=20, max_batch_size=1 << 20, acks="all")
    await producer.start()
    sent = 0
    started = now()
    try:
        pending = []
        for event in events:
            org = event.get("org_id")
            key = org.encode() if isinstance(org, str) else None
            pending.append(await producer.send(topic, orjson.dumps(event), key=key))
            sent += 1
            if len(pending) >= IN_FLIGHT:
                await asyncio.gather(*pending)
                pending = []
            if rate:
                ahead = sent / rate - (now() - started)
                if ahead > 0.01:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent
