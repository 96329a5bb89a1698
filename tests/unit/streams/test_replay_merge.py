"""The replay's merge across partitions: record-timestamp order, ties by partition, and each
partition's own offset order kept even where its timestamps go back."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from streams.replay import PartitionSpan, merged


@dataclass
class Rec:
    partition: int
    offset: int
    timestamp: int
    value: bytes = b""


class FakeConsumer:
    """Hands out each partition's records from its position, two at a time."""

    def __init__(self, logs: dict[int, list[int]]) -> None:
        self.logs = {p: [Rec(p, o, ts) for o, ts in enumerate(tss)] for p, tss in logs.items()}
        self.positions: dict[int, int] = {}

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = {tp.partition: 0 for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp.partition] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp.partition]

    async def getmany(self, tp: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Rec]]:
        at = self.positions[tp.partition]
        records = self.logs[tp.partition][at : at + 2]
        self.positions[tp.partition] = at + len(records)
        return {tp: records}


async def read(logs: dict[int, list[int]], plan: list[PartitionSpan]) -> list[tuple[int, int]]:
    consumer = FakeConsumer(logs)
    return [(r.partition, r.offset) async for r in merged(consumer, "t", plan)]


async def test_partitions_merge_by_timestamp_ties_by_partition():
    logs = {0: [10, 20, 30, 40], 1: [15, 20, 35], 2: [5]}
    plan = [PartitionSpan(0, 0, 4), PartitionSpan(1, 0, 3), PartitionSpan(2, 0, 1)]
    assert await read(logs, plan) == [
        (2, 0),
        (0, 0),
        (1, 0),
        (0, 1),
        (1, 1),
        (0, 2),
        (1, 2),
        (0, 3),
    ]


async def test_each_partition_stays_in_offset_order_and_within_its_span():
    # Partition 0's timestamps go back (a producer's own clock): its order is never changed.
    logs = {0: [1, 50, 40, 60, 70], 1: [45, 55]}
    plan = [PartitionSpan(0, 1, 4), PartitionSpan(1, 0, 2)]
    assert await read(logs, plan) == [(1, 0), (0, 1), (0, 2), (1, 1), (0, 3)]
