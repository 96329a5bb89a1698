"""What sinks that keep state (Alertmanager's re-sends) had delivered before the bridge started.

The pager topic is read from its start up to the group's committed offsets, once, before the
bridge consumes: without it, a restarted bridge would stop re-sending alerts that are still
firing and Alertmanager would resolve them when their lease ran out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka import TopicPartition

from alerting.bridge_config import BridgeConfig
from alerting.pager import MessageError, decode
from alerting.routing import sinks_for
from alerting.sinks.base import Sink
from streams.clients import KafkaClients
from streams.kafka_config import KafkaOptions

log = logging.getLogger("signalfire.bridge")


async def restore_delivered(
    clients: KafkaClients,
    options: KafkaOptions,
    *,
    topic: str,
    group_id: str,
    config: BridgeConfig,
    sinks: Mapping[str, Sink],
) -> None:
    """Hand each of `sinks` the pages of `topic` routed to it before the group's commits."""
    admin = clients.admin(**options)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for p in described.get("partitions") or ())
    # A group member that never joins: it reads the group's commits, and commits nothing.
    reader = clients.consumer(
        **options,
        group_id=group_id,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await reader.start()
    restored = 0
    try:
        targets = {}
        for tp in (TopicPartition(topic, p) for p in partitions):
            committed = await reader.committed(tp)
            if committed:
                targets[tp] = committed
        if targets:
            reader.assign(list(targets))
            await reader.seek_to_beginning(*targets)
        while targets:
            batches = await reader.getmany(*targets, timeout_ms=1000, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < targets.get(tp, -1):
                        restored += _restore_one(record.value or b"", config, sinks)
            for tp in list(targets):
                if await reader.position(tp) >= targets[tp]:
                    del targets[tp]
    finally:
        await reader.stop()
    log.info("restored %d delivered page(s) for re-sending", restored)


def _restore_one(raw: bytes, config: BridgeConfig, sinks: Mapping[str, Sink]) -> int:
    try:
        message = config.redaction.page(decode(raw))
    except MessageError:
        return 0
    names = [n for n in sinks_for(config.routes, message) if n in sinks]
    for name in names:
        sinks[name].restore(message)
    return 1 if names else 0
