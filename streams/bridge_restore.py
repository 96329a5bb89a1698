"""What the bridge had read before it started: the pager topic's records before the group's
committed offsets, read once, before the bridge consumes.

Sinks that keep state (Alertmanager's re-sends) are handed the pages routed to them: without
it, a restarted bridge would stop re-sending alerts that are still firing and Alertmanager would
resolve them when their lease ran out. With incidents, the same pass rebuilds each partition's
correlator (streams/bridge_incidents.py), and a partition taken over later from another bridge
of the group is read the same way before its first record is consumed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from aiokafka import TopicPartition

from alerting.bridge_config import BridgeConfig
from alerting.pager import MessageError, PagerMessage, decode
from alerting.routing import sinks_for
from alerting.sinks.base import Sink
from streams.bridge_incidents import BridgeIncidents
from streams.clients import KafkaClients
from streams.kafka_config import KafkaOptions

log = logging.getLogger("signalfire.bridge")

Handle = Callable[[int, int, bytes], None]  # partition, offset, record value


async def restore_read(
    clients: KafkaClients,
    options: KafkaOptions,
    *,
    topic: str,
    group_id: str,
    config: BridgeConfig,
    sinks: Mapping[str, Sink],
    incidents: BridgeIncidents | None,
    partitions: Iterable[int] | None = None,
) -> int:
    """Replay the committed records of `partitions` (all of the topic's when None) into
    `incidents` and `sinks`; the pages replayed."""
    restored = 0

    def handle(partition: int, offset: int, raw: bytes) -> None:
        nonlocal restored
        message = page_of(raw, config)
        if message is None:
            return
        if incidents is not None:
            message = incidents.attach(partition, offset, message, replay=True)
        names = [n for n in sinks_for(config.routes, message) if n in sinks]
        for name in names:
            sinks[name].restore(message)
        restored += 1

    committed = await read_committed(
        clients, options, topic=topic, group_id=group_id, partitions=partitions, handle=handle
    )
    if incidents is not None:
        # The last records before a commit point may be transaction markers, not pages.
        incidents.read_up_to(committed)
    log.info("read %d page(s) the bridge had read before", restored)
    return restored


def page_of(raw: bytes, config: BridgeConfig) -> PagerMessage | None:
    """A record as the bridge's consume loop takes it: a live page, redacted; None for what it
    dead-letters."""
    try:
        message = decode(raw)
    except MessageError:
        return None
    if message.payload.custom_details.rule.shadow:
        return None
    return config.redaction.page(message)


async def read_committed(
    clients: KafkaClients,
    options: KafkaOptions,
    *,
    topic: str,
    group_id: str,
    partitions: Iterable[int] | None,
    handle: Handle,
) -> dict[int, int]:
    """Each record of `partitions` before the group's committed offset, in offset order; the
    committed offsets."""
    if partitions is None:
        admin = clients.admin(**options)
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        partitions = [p["partition"] for p in described.get("partitions") or ()]
    # A group member that never joins: it reads the group's commits, and commits nothing.
    reader = clients.consumer(
        **options,
        group_id=group_id,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await reader.start()
    committed: dict[int, int] = {}
    try:
        targets = {}
        for tp in (TopicPartition(topic, p) for p in sorted(partitions)):
            offset = await reader.committed(tp)
            if offset:
                targets[tp] = committed[tp.partition] = offset
        if targets:
            reader.assign(list(targets))
            await reader.seek_to_beginning(*targets)
        while targets:
            batches = await reader.getmany(*targets, timeout_ms=1000, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < targets.get(tp, -1):
                        handle(tp.partition, record.offset, record.value or b"")
            for tp in list(targets):
                if await reader.position(tp) >= targets[tp]:
                    del targets[tp]
    finally:
        await reader.stop()
    return committed
