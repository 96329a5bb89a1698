"""An in-memory Kafka for the pipeline: partitions, transactions, fencing, committed offsets
with their metadata, and `read_committed` reads, enough to run `streams.pipeline.Pipeline`
without a broker and to kill it at an exact point; and a wall clock the test moves.

A worker's clients belong to a `Process`. `Process.kill()` -- or a `kill_at` hook that answers
yes at a named point -- is SIGKILL: from then on every call of those clients raises `Killed`,
and whatever transaction they had open stays open until a producer with the same
transactional id starts and fences it (aborting it), as on a real broker.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from signalfire.gc_tuning import StateFreezer
from streams.clients import KafkaClients

Key = tuple[str, int]


class Wall:
    """The worker's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


class NoFreeze(StateFreezer):
    """The collector's pauses are the process's business, not a test's."""

    def maybe_freeze(self, now: float) -> bool:
        return False


class Killed(BaseException):
    """The process died here. A BaseException, so no `except Exception` in the worker can
    swallow its death."""


class Fenced(Exception):
    """A newer producer with the same transactional id has started."""


@dataclass
class Txn:
    tid: str
    first: dict[Key, int] = field(default_factory=dict)  # first offset written per partition
    offsets: dict[str, dict[Key, OffsetAndMetadata]] = field(default_factory=dict)
    state: str = "open"  # open | committed | aborted


@dataclass
class Entry:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    txn: Txn | None  # None: written outside a transaction, visible at once
    control: bool = False  # a commit or abort marker: takes an offset, is never returned

    @property
    def visible(self) -> bool:
        return not self.control and (self.txn is None or self.txn.state == "committed")


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


class Broker:
    def __init__(self) -> None:
        self.topics: dict[str, int] = {}
        self.configs: dict[str, dict[str, str]] = {}
        self.logs: dict[Key, list[Entry]] = {}
        self.groups: dict[str, dict[Key, OffsetAndMetadata]] = {}
        self.open: dict[str, Txn] = {}
        self.epochs: dict[str, int] = {}
        # At most this many records per partition and fetch: runs that fetch differently cut
        # the same records into different batches.
        self.fetch_limit: int | None = None

    # -- topics ----------------------------------------------------------------------------
    def create_topic(
        self, name: str, partitions: int, configs: dict[str, str] | None = None
    ) -> None:
        if name in self.topics:
            return
        self.topics[name] = partitions
        self.configs[name] = dict(configs or {})
        for p in range(partitions):
            self.logs[(name, p)] = []

    def produce(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> int:
        """Outside any transaction, as the input's producers write."""
        return self._append((topic, partition), key, value, (), None)

    def _append(
        self,
        tp: Key,
        key: bytes | None,
        value: bytes | None,
        headers: tuple[tuple[str, bytes], ...],
        txn: Txn | None,
        control: bool = False,
    ) -> int:
        log = self.logs[tp]
        offset = len(log)
        log.append(Entry(offset, key, value, headers, txn, control))
        if txn is not None and not control:
            txn.first.setdefault(tp, offset)
        return offset

    # -- reading ---------------------------------------------------------------------------
    def end(self, tp: Key) -> int:
        return len(self.logs[tp])

    def stable_end(self, tp: Key) -> int:
        """The last stable offset: read_committed readers stop before any open transaction."""
        firsts = [t.first[tp] for t in self.open.values() if tp in t.first]
        return min(firsts, default=self.end(tp))

    def committed_records(self, topic: str) -> list[Record]:
        return [
            Record(topic, p, e.offset, e.key, e.value, e.headers)
            for p in range(self.topics[topic])
            for e in self.logs[(topic, p)]
            if e.visible
        ]

    # -- transactions ----------------------------------------------------------------------
    def init_producer(self, tid: str) -> int:
        """A producer with this id starts: the open transaction of its predecessor aborts."""
        old = self.open.pop(tid, None)
        if old is not None:
            self._end(old, commit=False)
        self.epochs[tid] = self.epochs.get(tid, 0) + 1
        return self.epochs[tid]

    def begin(self, tid: str) -> Txn:
        assert tid not in self.open, "one transaction at a time per producer"
        txn = self.open[tid] = Txn(tid)
        return txn

    def finish(self, txn: Txn, commit: bool) -> None:
        del self.open[txn.tid]
        self._end(txn, commit)

    def _end(self, txn: Txn, commit: bool) -> None:
        txn.state = "committed" if commit else "aborted"
        for tp in txn.first:
            self._append(tp, None, None, (), txn, control=True)
        if commit:
            for group, offsets in txn.offsets.items():
                self.groups.setdefault(group, {}).update(offsets)


class Process:
    """One worker process: the clients it made, and whether it is still alive."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.dead = False
        # Called at each named point (e.g. "send", "offsets", "commit") with details; a true
        # answer kills the process right there.
        self.kill_at: Callable[[str, dict[str, Any]], bool] | None = None

    def kill(self) -> None:
        self.dead = True

    def check(self, point: str, **details: Any) -> None:
        if not self.dead and self.kill_at is not None and self.kill_at(point, details):
            self.dead = True
        if self.dead:
            raise Killed(point)


class MemoryClients(KafkaClients):
    """The clients of one worker process on the in-memory broker."""

    def __init__(self, process: Process) -> None:
        self.process = process

    def consumer(self, **options: Any) -> MemoryConsumer:
        return MemoryConsumer(self.process, options.get("group_id"))

    def producer(self, **options: Any) -> MemoryProducer:
        return MemoryProducer(self.process, options.get("transactional_id"))

    def admin(self, **options: Any) -> MemoryAdmin:
        return MemoryAdmin(self.process)


class MemoryAdmin:
    def __init__(self, process: Process) -> None:
        self.process = process
        self.broker = process.broker

    async def start(self) -> None:
        self.process.check("admin")

    async def close(self) -> None:
        pass

    async def list_topics(self) -> list[str]:
        self.process.check("admin")
        return list(self.broker.topics)

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [
            {"topic": t, "partitions": [{"partition": p} for p in range(self.broker.topics[t])]}
            for t in topics
        ]

    async def create_topics(self, new: list[Any]) -> None:
        self.process.check("admin")
        for t in new:
            self.broker.create_topic(t.name, t.num_partitions, t.topic_configs)

    async def describe_configs(self, resources: list[Any]) -> list[Any]:
        """Only what the pipeline asks: a topic's max.message.bytes, when it was set."""
        found = []
        for r in resources:
            configs = self.broker.configs.get(r.name, {})
            entries = [(k, v) for k, v in configs.items() if k in (r.configs or configs)]
            found.append(SimpleNamespace(resources=[(0, "", r.resource_type, r.name, entries)]))
        return found


class MemoryConsumer:
    def __init__(self, process: Process, group_id: str | None) -> None:
        self.process = process
        self.broker = process.broker
        self.group_id = group_id
        self.topics: list[str] = []
        self.listener: Any = None
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.highwaters: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._coordinator = self  # the pipeline reads offsets with their metadata there

    # -- membership ------------------------------------------------------------------------
    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.topics = list(topics)
        self.listener = listener

    async def start(self) -> None:
        """The only member of its group: every partition of its topics is assigned to it."""
        self.process.check("join")
        if self.group_id is None or not self.topics:
            return
        tps = [TopicPartition(t, p) for t in self.topics for p in range(self.broker.topics[t])]
        self.assign(tps)
        if self.listener is not None:
            await self.listener.on_partitions_assigned(set(tps))

    async def stop(self) -> None:
        pass

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned = list(tps)
        self.positions = {}
        self._paused &= set(tps)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    # -- offsets ---------------------------------------------------------------------------
    async def fetch_committed_offsets(
        self, tps: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        self.process.check("offsets-fetch")
        assert self.group_id is not None
        group = self.broker.groups.get(self.group_id, {})
        return {
            tp: group[(tp.topic, tp.partition)] for tp in tps if (tp.topic, tp.partition) in group
        }

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Offsets committed outside a transaction, as the bridge commits them."""
        self.process.check("commit-offsets", offsets=offsets)
        assert self.group_id is not None
        group = self.broker.groups.setdefault(self.group_id, {})
        for tp, offset in offsets.items():
            group[(tp.topic, tp.partition)] = OffsetAndMetadata(offset, "")

    async def committed(self, tp: TopicPartition) -> int | None:
        found = await self.fetch_committed_offsets([tp])
        return found[tp].offset if tp in found else None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def seek_to_beginning(self, *tps: TopicPartition) -> bool:
        for tp in tps:
            self.positions[tp] = 0
        return True

    async def position(self, tp: TopicPartition) -> int:
        self.process.check("position")
        return self.positions.setdefault(tp, self._start(tp))

    def _start(self, tp: TopicPartition) -> int:
        """Where a group member starts reading a partition it has not sought: the group's
        committed offset, as Kafka's consumers do."""
        if self.group_id is None:
            return 0
        found = self.broker.groups.get(self.group_id, {}).get((tp.topic, tp.partition))
        return 0 if found is None else found.offset

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp)

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.process.check("beginning-offsets")
        return dict.fromkeys(tps, 0)

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.process.check("end-offsets")
        return {tp: self.broker.stable_end((tp.topic, tp.partition)) for tp in tps}

    # -- records ---------------------------------------------------------------------------
    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        self.process.check("fetch")
        await asyncio.sleep(0)
        left = max_records if max_records is not None else 1 << 62
        found: dict[TopicPartition, list[Record]] = {}
        for tp in partitions or sorted(self.assigned):
            if tp in self._paused or left <= 0:
                continue
            key = (tp.topic, tp.partition)
            self.highwaters[tp] = self.broker.end(key)
            limit = min(left, self.broker.fetch_limit or left)
            records, position = self._read(
                key, self.positions.setdefault(tp, self._start(tp)), limit
            )
            self.positions[tp] = position
            if records:
                found[tp] = records
                left -= len(records)
        return found

    def _read(self, key: Key, position: int, limit: int) -> tuple[list[Record], int]:
        stable = self.broker.stable_end(key)
        log = self.broker.logs[key]
        records: list[Record] = []
        while position < stable and len(records) < limit:
            e = log[position]
            if e.visible:
                records.append(Record(key[0], key[1], e.offset, e.key, e.value, e.headers))
            position += 1
        return records, position


class MemoryProducer:
    """Transactional with a transactional id; without one, each record is visible at once."""

    def __init__(self, process: Process, tid: str | None) -> None:
        self.process = process
        self.broker = process.broker
        self.tid = tid
        self.epoch = 0
        self.txn: Txn | None = None

    def _check(self, point: str, **details: Any) -> None:
        self.process.check(point, tid=self.tid, **details)
        if self.tid is not None and self.broker.epochs.get(self.tid) != self.epoch:
            raise Fenced(self.tid)

    async def start(self) -> None:
        self.process.check("producer-start", tid=self.tid)
        if self.tid is not None:
            self.epoch = self.broker.init_producer(self.tid)

    async def stop(self) -> None:
        self.process.check("producer-stop", tid=self.tid)

    @asynccontextmanager
    async def transaction(self) -> Any:
        assert self.tid is not None, "a transaction needs a transactional id"
        self._check("begin")
        self.txn = self.broker.begin(self.tid)
        try:
            yield
        except Killed:
            raise  # a dead process ends nothing: its successor's fencing aborts it
        except BaseException:
            # A fenced producer's abort is refused: the transaction open under its id now is
            # its successor's (its own was aborted by the fencing).
            if self.broker.open.get(self.tid) is self.txn:
                self.broker.finish(self.txn, commit=False)
            self.txn = None
            raise
        self._check("commit")
        txn, self.txn = self.txn, None
        self.broker.finish(txn, commit=True)
        written = [
            (topic, e.value)
            for (topic, partition), first in txn.first.items()
            for e in self.broker.logs[(topic, partition)][first:]
            if e.txn is txn and not e.control
        ]
        self._check("committed", records=written)

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        self._check("send", topic=topic, partition=partition, value=value)
        await asyncio.sleep(0)
        self._check("sent", topic=topic, partition=partition, value=value)
        if partition is None:
            partition = zlib.crc32(key or b"") % self.broker.topics[topic]
        txn = self.txn
        offset = self.broker._append((topic, partition), key, value, tuple(headers or ()), txn)
        self._check("written", topic=topic, partition=partition, value=value)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(offset)
        return future

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        return await (await self.send(topic, value, key, partition, headers))

    async def send_offsets_to_transaction(
        self, offsets: dict[TopicPartition, OffsetAndMetadata], group_id: str
    ) -> None:
        self._check("offsets", offsets=offsets)
        assert self.txn is not None
        into = self.txn.offsets.setdefault(group_id, {})
        for tp, om in offsets.items():
            into[(tp.topic, tp.partition)] = om
