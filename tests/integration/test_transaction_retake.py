"""A partition's producer dies under a transaction, as aiokafka's does when the broker drops
the connection while the producer looks up the group coordinator for the offsets. On a real
Kafka the worker takes its partitions over again from what was committed, goes on, and sends
every page once."""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.producer.sender import CoordinationType
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from signalfire.rules import load_rules
from streams.clients import KafkaClients
from streams.config import WorkerConfig
from streams.kafka_config import KafkaSettings
from streams.pipeline import Pipeline
from tests.integration.worker_harness import BUSY_ORG, produce, read_topic
from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration


class DyingSenders(KafkaClients):
    """Producers whose sender dies once `armed`: the next coordinator lookup for a group's
    offsets fails as aiokafka's does on a closed connection, which ends its sender routine."""

    def __init__(self) -> None:
        self.armed = False
        self.killed = 0

    def producer(self, **options: object) -> AIOKafkaProducer:
        made = super().producer(**options)
        sender = made._sender
        find = sender._find_coordinator

        async def lookup(kind: Any, key: str) -> Any:
            if self.armed and kind == CoordinationType.GROUP:
                self.armed = False
                self.killed += 1
                closed = KafkaConnectionError("Connection at 127.0.0.1 closed")
                raise KafkaError(repr(closed)) from closed
            return await find(kind, key)

        sender._find_coordinator = lookup
        return made


def busy(org: str, start_ms: int) -> list[dict[str, Any]]:
    return [{"event_id": f"{org}-{i}", "ts": start_ms + i * 1_000, "org_id": org} for i in range(4)]


async def pages_of(kafka: KafkaBroker, topic: str, count: int) -> list[dict[str, Any]]:
    """The committed pages, once there are `count` (or 60 s have passed)."""
    deadline = time.monotonic() + 60
    pages: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(pages) < count:
        records = await asyncio.to_thread(read_topic, kafka, topic, 1, 10)
        pages = [orjson.loads(r.value) for r in records]
    return pages


async def test_a_dead_producer_is_replaced_and_the_failed_batch_paged_once(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "busy_org.yaml").write_text(BUSY_ORG)
    config = WorkerConfig(
        group_id=f"sf-{tag}", rules=str(rules), events_topic=f"ev-{tag}",
        pager_topic=f"pager-{tag}", shadow_topic=f"shadow-{tag}", dlq_topic=f"dlq-{tag}",
        control_topic=f"control-{tag}", kafka=KafkaSettings(brokers=kafka.bootstrap),
    )  # fmt: skip
    kafka.create_topic(config.events_topic, partitions=1)
    registry = CollectorRegistry()
    clients = DyingSenders()
    pipeline = Pipeline(
        config, list(load_rules([str(rules)]).rules), Metrics.create(registry), clients=clients
    )
    await pipeline.start()
    loop = asyncio.create_task(pipeline.run())
    now = int(time.time() * 1000)
    try:
        await asyncio.to_thread(produce, kafka, config.events_topic, busy("o1", now))
        assert len(await pages_of(kafka, config.pager_topic, 1)) == 1
        clients.armed = True
        await asyncio.to_thread(produce, kafka, config.events_topic, busy("o2", now))
        assert len(await pages_of(kafka, config.pager_topic, 2)) == 2
        await asyncio.to_thread(produce, kafka, config.events_topic, busy("o3", now))
        await pages_of(kafka, config.pager_topic, 3)
        assert not loop.done(), "the loop stopped"
    finally:
        pipeline.running = False
        await loop
        await pipeline.stop()
    assert clients.killed == 1
    assert registry.get_sample_value("signalfire_transaction_retakes_total") == 1
    # Read again once nothing has come for 2 s: the retake sent no page twice.
    records = await asyncio.to_thread(read_topic, kafka, config.pager_topic, 2)
    pages = [orjson.loads(r.value) for r in records]
    assert sorted(p["payload"]["custom_details"]["group"]["org_id"] for p in pages) == [
        "o1", "o2", "o3"
    ]  # fmt: skip
