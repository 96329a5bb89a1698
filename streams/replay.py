"""A span of event time read back from a topic, for `signalfire backtest --from-kafka`.

Each partition is read from the first record at or after `since` (Kafka's offsets_for_times)
to the first record past `until`, or to its end offset as of the start, whichever comes first:
the span is fixed when the replay starts, so records written meanwhile never stretch it.
Partitions are merged into one stream in record-timestamp order (ties by partition), and each
partition keeps its own offset order, which is the order its worker engine sees.

Records are read as the worker reads them (`read_committed`, the worker's Kafka settings) and
handed on as `signalfire.sources.Lines`, each record's place being `topic[partition]` and its
offset, so that the backtest counts and shows rejected records as it does a file's lines.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from signalfire.sources import BATCH, Lines
from streams.connect import BrokerAccessError, check_brokers
from streams.kafka_config import KafkaSettings

STALL_S = 30.0  # no record of a partition that still has some to give for this long: give up
CONNECT_TIMEOUT_S = 10.0
T = TypeVar("T")


class ReplayError(Exception):
    """The span cannot be read; the message is one line saying why and what to check."""


@dataclass(frozen=True, slots=True)
class Span:
    topic: str
    since_ms: int
    until_ms: int  # inclusive


@dataclass(frozen=True, slots=True)
class PartitionSpan:
    partition: int
    start: int
    stop: int  # the first offset not read

    @property
    def size(self) -> int:
        return self.stop - self.start


class Replay:
    """A span of a topic as batches of record values, read on an event loop of its own so that
    the (synchronous) backtest can pull them one batch at a time.

        replay = Replay(settings, span)
        total = replay.open()          # ReplayError: broker, topic, span
        for lines in replay.batches():
            ...
        replay.close()
    """

    def __init__(self, kafka: KafkaSettings, span: Span, batch: int = BATCH) -> None:
        self.kafka = kafka
        self.span = span
        self.batch = batch
        self.plan: list[PartitionSpan] = []
        self._loop = asyncio.new_event_loop()
        self._consumer: AIOKafkaConsumer | None = None

    def open(self) -> int:
        """Connect and find each partition's offsets; the number of offsets in the span (an
        upper bound on its records: transaction markers take offsets too)."""
        self.plan = self._run(self._open())
        return sum(p.size for p in self.plan)

    def batches(self) -> Iterator[Lines]:
        stream = self._batches()
        try:
            while True:
                try:
                    yield self._run(anext(stream))
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())

    def close(self) -> None:
        try:
            if self._consumer is not None:
                self._run(self._consumer.stop())
        finally:
            self._loop.close()

    def _run(self, step: Awaitable[T]) -> T:
        return self._loop.run_until_complete(step)

    async def _open(self) -> list[PartitionSpan]:
        try:
            await check_brokers(self.kafka, CONNECT_TIMEOUT_S)
        except BrokerAccessError as exc:
            raise ReplayError(" ".join(str(exc).split())) from None
        consumer = self._consumer = AIOKafkaConsumer(
            **self.kafka.options(),
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000) + 5000,
        )
        try:
            partitions = await partitions_of(self.kafka, self.span.topic)
            await consumer.start()
            return await plan_span(consumer, self.span, partitions)
        except KafkaError as exc:
            raise ReplayError(f"cannot read {self.span.topic!r}: {exc}") from None

    async def _batches(self) -> AsyncGenerator[Lines, None]:
        assert self._consumer is not None, "open() first"
        name = self.span.topic
        out = Lines()
        try:
            async for record in merged(self._consumer, name, self.plan):
                out.values.append(record.value or b"")
                out.places.append((f"{name}[{record.partition}]", record.offset))
                if len(out.values) >= self.batch:
                    yield out
                    out = Lines()
        except KafkaError as exc:
            raise ReplayError(f"reading {name!r} failed: {exc}") from None
        if out.values:
            yield out


async def partitions_of(kafka: KafkaSettings, topic: str) -> list[int]:
    """The topic's partition numbers; ReplayError if there is no such topic."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            raise ReplayError(f"topic {topic!r} does not exist on {kafka.brokers}")
        [meta] = await admin.describe_topics([topic])
        return sorted(int(p["partition"]) for p in meta.get("partitions", []))
    finally:
        await admin.close()


async def plan_span(
    consumer: AIOKafkaConsumer, span: Span, partitions: list[int]
) -> list[PartitionSpan]:
    """Each partition's offsets for the span, in partition order; empty ones left out."""
    tps = [TopicPartition(span.topic, p) for p in partitions]
    ends = await consumer.end_offsets(tps)
    starts = await consumer.offsets_for_times({tp: span.since_ms for tp in tps})
    # The first record past `until` is the first at or after until + 1.
    stops = await consumer.offsets_for_times({tp: span.until_ms + 1 for tp in tps})
    plan = []
    for tp in tps:
        first, past = starts[tp], stops[tp]
        start = ends[tp] if first is None else first.offset
        stop = ends[tp] if past is None else min(past.offset, ends[tp])
        if stop > start:
            plan.append(PartitionSpan(tp.partition, start, stop))
    return plan


async def merged(
    consumer: AIOKafkaConsumer, topic: str, plan: list[PartitionSpan]
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """The records of every partition's span in timestamp order across partitions; each
    partition in its own offset order."""
    tps = {p.partition: TopicPartition(topic, p.partition) for p in plan}
    consumer.assign(list(tps.values()))
    for p in plan:
        consumer.seek(tps[p.partition], p.start)
    buffers: dict[int, deque[ConsumerRecord[bytes, bytes]]] = {p.partition: deque() for p in plan}
    stops = {p.partition: p.stop for p in plan}
    heap: list[tuple[int, int, int]] = []  # (timestamp, partition, offset) of each head

    async def head(partition: int) -> None:
        record = await _next(consumer, tps[partition], buffers[partition], stops[partition])
        if record is not None:
            heapq.heappush(heap, (record.timestamp, partition, record.offset))

    for p in plan:
        await head(p.partition)
    while heap:
        _, partition, _ = heapq.heappop(heap)
        yield buffers[partition].popleft()
        await head(partition)


async def _next(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    buffer: deque[ConsumerRecord[bytes, bytes]],
    stop: int,
) -> ConsumerRecord[bytes, bytes] | None:
    """The partition's next record before `stop` (left at the buffer's head), or None."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STALL_S
    while not buffer:
        if await consumer.position(tp) >= stop:
            return None
        fetched = await consumer.getmany(tp, timeout_ms=500)
        records = [r for r in fetched.get(tp, []) if r.offset < stop]
        if records:
            buffer.extend(records)
            break
        if loop.time() > deadline:
            raise ReplayError(
                f"no record from {tp.topic}[{tp.partition}] for {STALL_S:.0f}s before offset {stop}"
            )
    return buffer[0]
