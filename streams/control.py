"""The control topic: read whole by every worker (the snoozes in force), written by the console.

Every worker reads every partition of it, outside the consumer group, from the start: a snooze
covers pages of whatever partitions a worker owns, now or after a rebalance, and a restarted
worker has them all again before it consumes an event. The topic is compacted, so its size is
that of the snoozes set, not of their history.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from alerting.snooze import SnoozeBook, SnoozeError, decode
from streams.clients import KafkaClients
from streams.kafka_config import KafkaOptions

log = logging.getLogger("signalfire.worker")
LOAD_POLL_MS = 500


class ControlReader:
    def __init__(
        self, clients: KafkaClients, options: KafkaOptions, topic: str, book: SnoozeBook
    ) -> None:
        self.clients = clients
        self.options = options
        self.topic = topic
        self.book = book
        self.rejected = 0  # records that are not snoozes, skipped
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Read the topic to its end, so the worker starts with every snooze in force."""
        admin = self.clients.admin(**self.options)
        await admin.start()
        try:
            [described] = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        partitions = [
            TopicPartition(self.topic, p["partition"]) for p in described.get("partitions") or ()
        ]
        consumer = self._consumer = self.clients.consumer(
            **self.options, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        behind = {tp for tp in partitions if ends[tp] > 0}
        while behind:
            await self._read(LOAD_POLL_MS)
            for tp in list(behind):
                if await consumer.position(tp) >= ends[tp]:
                    behind.discard(tp)
        log.info("control topic %s read: %d snooze(s) in force", self.topic, len(self.book))

    async def poll(self) -> int:
        """What has come since the last call, without waiting; returns the records applied."""
        return await self._read(0)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _read(self, timeout_ms: int) -> int:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=1000)
        applied = 0
        for records in batches.values():
            for record in records:
                applied += self.apply(record.key, record.value, record.offset)
        return applied

    def apply(self, key: bytes | None, value: bytes | None, offset: int) -> int:
        """One control record into the book; a record that is not a snooze is skipped, named
        by its offset (its contents may be anything)."""
        if key is None:
            self._reject(offset, "no key")
            return 0
        try:
            self.book.apply(key.decode(), None if value is None else decode(value))
        except (SnoozeError, UnicodeDecodeError) as exc:
            self._reject(offset, str(exc) if isinstance(exc, SnoozeError) else "key not UTF-8")
            return 0
        return 1

    def _reject(self, offset: int, why: str) -> None:
        self.rejected += 1
        log.warning("control record %s@%d skipped: %s", self.topic, offset, why)


class ControlWriter:
    """Puts snoozes onto the control topic for the console, creating the topic if it is
    missing (compacted, one partition, as the worker creates it)."""

    def __init__(self, clients: KafkaClients, options: KafkaOptions, topic: str) -> None:
        self.clients = clients
        self.options = options
        self.topic = topic
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        admin = self.clients.admin(**self.options)
        await admin.start()
        try:
            if self.topic not in set(await admin.list_topics()):
                await admin.create_topics([control_topic_spec(self.topic)])
        except TopicAlreadyExistsError:
            pass  # a worker created it meanwhile
        finally:
            await admin.close()
        self._producer = self.clients.producer(**self.options, acks="all", enable_idempotence=True)
        await self._producer.start()

    async def publish(self, key: str, value: bytes | None) -> None:
        """Written once the broker has it: a snooze the console shows has reached Kafka."""
        assert self._producer is not None, "start() first"
        await self._producer.send_and_wait(self.topic, value=value, key=key.encode())

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def control_topic_spec(topic: str) -> NewTopic:
    # One partition: snoozes are few, and every worker reads them all in their order.
    return NewTopic(
        topic, num_partitions=1, replication_factor=1, topic_configs={"cleanup.policy": "compact"}
    )
