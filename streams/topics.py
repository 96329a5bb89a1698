"""The worker's topics: created at start when missing, and what it needs to know of them.

Every topic the worker writes has the input topic's partition count: `pager`, the shadow topic
(shadow rules' pages and snoozed triggers),
the dead-letter topic, one repartition topic per family and the compacted state topics (one per
consumed topic, named after the consumer group so that two deployments never read each other's
state). The control topic it reads (snoozes) is compacted and has one partition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.clients import KafkaClients
from streams.config import WorkerConfig
from streams.control import control_topic_spec
from streams.state import MAX_SNAPSHOT_BYTES

log = logging.getLogger("signalfire.worker")
DEFAULT_PARTITIONS = 4
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588  # Kafka's default max.message.bytes
# On the shadow topic: why a page is kept from on-call (`snoozed`), and the snooze's key.
HELD_HEADER = "signalfire-held"
SNOOZE_HEADER = "signalfire-snooze"


@dataclass(frozen=True, slots=True)
class TopicSizes:
    partitions: int  # of the input topic, and so of every topic the worker creates
    pager_partitions: int
    shadow_partitions: int
    dlq_limit: int  # the dead-letter topic's max.message.bytes


def state_topic(config: WorkerConfig, source_topic: str) -> str:
    return f"{config.group_id}.state.{source_topic}"


async def ensure_topics(
    clients: KafkaClients, config: WorkerConfig, consumed: list[str]
) -> TopicSizes:
    """Create the output, repartition and state topics that do not exist yet. `consumed` is
    the input topic first, then the repartition topics."""
    admin = clients.admin(**config.kafka.options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        partitions = DEFAULT_PARTITIONS
        if config.events_topic in existing:
            meta = await admin.describe_topics([config.events_topic])
            partitions = max(1, len(meta[0].get("partitions", [])) or DEFAULT_PARTITIONS)
        plain = [config.events_topic, config.pager_topic, config.shadow_topic, *consumed[1:]]
        compacted = [state_topic(config, t) for t in consumed]
        new = [
            NewTopic(t, num_partitions=partitions, replication_factor=1)
            for t in dict.fromkeys(plain)
            if t not in existing
        ] + [
            NewTopic(
                t, num_partitions=partitions, replication_factor=1,
                topic_configs={
                    "cleanup.policy": "compact",
                    "max.message.bytes": str(MAX_SNAPSHOT_BYTES),
                },
            )
            for t in compacted
            if t not in existing
        ] + [
            # Dead letters keep records too large to process: the topic must take them.
            NewTopic(
                t, num_partitions=partitions, replication_factor=1,
                topic_configs={"max.message.bytes": str(MAX_SNAPSHOT_BYTES)},
            )
            for t in [config.dlq_topic]
            if t not in existing
        ] + [
            control_topic_spec(t) for t in [config.control_topic] if t not in existing
        ]  # fmt: skip
        if new:
            await admin.create_topics(new)
            log.info("created topics %s", ", ".join(t.name for t in new))
        dlq_limit = (
            await max_message_bytes(admin, config.dlq_topic)
            if config.dlq_topic in existing
            else MAX_SNAPSHOT_BYTES
        )
        pager_partitions, shadow_partitions = partitions, partitions
        if config.pager_topic in existing:
            meta = await admin.describe_topics([config.pager_topic])
            pager_partitions = max(1, len(meta[0].get("partitions", [])))
        if config.shadow_topic in existing:
            meta = await admin.describe_topics([config.shadow_topic])
            shadow_partitions = max(1, len(meta[0].get("partitions", [])))
        return TopicSizes(partitions, pager_partitions, shadow_partitions, dlq_limit)
    finally:
        await admin.close()


async def max_message_bytes(admin: AIOKafkaAdminClient, topic: str) -> int:
    """The topic's `max.message.bytes`, or Kafka's default when it cannot be read."""
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})]
        )
        for resource in response.resources:
            for entry in resource[4]:
                if entry[0] == "max.message.bytes":
                    return int(entry[1])
    except Exception as exc:  # an ACL may hide configs: assume the default, say so
        log.warning("cannot read %s's max.message.bytes (%s)", topic, type(exc).__name__)
    return DEFAULT_MAX_MESSAGE_BYTES
