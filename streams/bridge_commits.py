"""The bridge's offset commits: a partition's offset goes to Kafka up to the oldest page some
sink still owes (`alerting.offsets`), no more often than the commit interval, and at once when
the partition leaves or the bridge stops."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerting.offsets import OffsetTracker

log = logging.getLogger("signalfire.bridge")

COMMIT_INTERVAL_S = 1.0


class Commits:
    def __init__(self, topic: str, monotonic: Callable[[], float]) -> None:
        self.topic = topic
        self._monotonic = monotonic  # the interval's: wall-clock steps must not stall it
        self.tracker = OffsetTracker()
        self._committed: dict[int, int] = {}
        self._last = 0.0

    async def commit(self, consumer: AIOKafkaConsumer, *, force: bool = False) -> None:
        now = self._monotonic()
        if not force and now - self._last < COMMIT_INTERVAL_S:
            return
        self._last = now
        offsets = {}
        for partition in self.tracker.partitions():
            at = self.tracker.committable(partition)
            if at is not None and self._committed.get(partition) != at:
                offsets[TopicPartition(self.topic, partition)] = at
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # a rebalance in progress: commit next time
            log.warning("commit failed (%s); will retry", type(exc).__name__)
            return
        self._committed.update({tp.partition: at for tp, at in offsets.items()})

    async def revoked(self, consumer: AIOKafkaConsumer, partitions: list[int]) -> None:
        await self.commit(consumer, force=True)
        for partition in partitions:
            self.tracker.drop(partition)
            self._committed.pop(partition, None)
