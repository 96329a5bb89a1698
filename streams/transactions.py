"""One Kafka transaction per partition and batch: its outputs, now and then its state, and its
input offset with the clock moves made since the last snapshot. A batch that writes nothing
leaves its offset to the partition's next transaction, at most the commit interval later.

Every owned partition has its own transactional producer, whose id follows the partition
(`<group>.<topic>.<partition>`): a restarted or new owner starting one fences the old owner
and aborts its open transaction. Readers with `isolation_level=read_committed` therefore see
each page once, and after a crash nothing is lost or repeated (see streams/state.py).

A batch's transaction runs in the background (`start`) while the worker fetches and processes
the partition's next batches: its offset, clock moves and, when one is due, the partition's
snapshot are taken when it starts, so what it commits is exactly the outcome of the batches
before it. A partition has at most one transaction in flight; batches processed meanwhile are
`queued` and their transaction starts as soon as it ends (`settle` waits for both). A
snapshot's engine state is saved in a thread (the engine lets go of the GIL), then compressed
in one and written in the background like the rest: the loop goes on meanwhile, and the
partition being saved is not read from until its save is done (`saving`; the pipeline pauses
it). Once a transaction has failed no other starts, and the loop meets the failure at its next
turn (streams/retakes.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from alerting.metrics import Metrics
from streams.clients import KafkaClients
from streams.config import WorkerConfig
from streams.counters import fold
from streams.outputs import Outputs, Partition
from streams.processor import Processor
from streams.records import DeadLetter
from streams.recovery import Capture
from streams.state import (
    MAX_SNAPSHOT_BYTES,
    SOURCE_HEADER,
    Move,
    Snapshot,
    encode_moves,
    state_key,
)
from streams.topics import DEFAULT_MAX_MESSAGE_BYTES, HELD_HEADER, SNOOZE_HEADER, state_topic

log = logging.getLogger("signalfire.worker")
T = TypeVar("T")

# A snapshot being taken: the partition's engine saved in a thread (and how long that took).
Saving = asyncio.Task[tuple[Snapshot, float]]
# Batches a partition's next transaction may gather while its previous one runs: past that the
# loop waits for it, as it would for a broker that has stopped answering.
MAX_QUEUED_BATCHES = 8
RECORD_OVERHEAD = 1024  # batch and record headers, generously
RETRY_BACKOFF_MS = 10


def held(source: bytes, why: str, snooze: str | None = None) -> list[tuple[str, bytes]]:
    """The headers of a page kept from on-call: why (`shadow`, `snoozed`), and which snooze."""
    headers = [(SOURCE_HEADER, source), (HELD_HEADER, why.encode())]
    return headers if snooze is None else [*headers, (SNOOZE_HEADER, snooze.encode())]


class Transactions:
    def __init__(
        self,
        config: WorkerConfig,
        processor: Processor,
        metrics: Metrics,
        wall: Callable[[], float],
        clients: KafkaClients,
    ) -> None:
        self.config = config
        self.processor = processor
        self.metrics = metrics
        self.wall = wall
        self.clients = clients
        self.producers: dict[Partition, AIOKafkaProducer] = {}
        self.in_flight: dict[Partition, asyncio.Task[None]] = {}
        # What a transaction in flight raised. The state in memory is then ahead of what is
        # committed: nothing more may be committed, not even a last snapshot at the hand-over,
        # or the failed batch's outputs would be skipped for good.
        self.failed: BaseException | None = None
        # Transactions committed: one more since a failure shows the broker answers again.
        self.commits = 0
        self.snapshot_due: dict[Partition, float] = {}
        # When each partition's last transaction started: a batch that writes nothing leaves
        # its offset to the next transaction, up to an interval later.
        self.committed_at: dict[Partition, float] = {}
        # Batches processed while their partition's transaction ran, for its next one.
        self.queued: dict[Partition, Queued] = {}
        # Called with a partition whose snapshot's engine state is saved: it may change again.
        self.on_saved: Callable[[Partition], None] = lambda tp: None
        # Partitions whose last batches started no transaction: their offset is still to commit.
        self.uncommitted: set[Partition] = set()
        # Partitions with a snapshot in flight (until its transaction ends).
        self.checkpointing: set[Partition] = set()
        # Partitions whose engine is being saved, in a thread: the engine must not change
        # until it is done.
        self.saving: dict[Partition, Saving] = {}
        # Reads the state and pager topics, outside the group: the pager's end offsets for a
        # snapshot (where its page log starts), snapshots and page logs on a take-over. Set at
        # start.
        self.reader: AIOKafkaConsumer | None = None
        self.pager_partitions = 1
        self.shadow_partitions = 1
        self.dlq_limit = DEFAULT_MAX_MESSAGE_BYTES

    # -- producers -------------------------------------------------------------------------
    async def open(self, partitions: list[Partition]) -> list[Partition]:
        """Start a producer for each partition that has none; returns those partitions."""
        new = [tp for tp in partitions if tp not in self.producers]
        for tp in new:
            self.producers[tp] = self.clients.producer(
                **self.config.kafka.options(),
                transactional_id=f"{self.config.group_id}.{tp[0]}.{tp[1]}",
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                # A transaction begun right after the previous commit is refused with
                # CONCURRENT_TRANSACTIONS until the broker has written the markers; the client
                # retries after this backoff (100 ms by default: up to 100 ms on every page).
                retry_backoff_ms=RETRY_BACKOFF_MS,
                max_batch_size=1 << 20,
                # Repartitioned events are JSON, most of what the worker writes: compressed,
                # the broker stores and serves a fraction of the bytes.
                compression_type=self.config.compression,
                max_request_size=MAX_SNAPSHOT_BYTES + (1 << 20),
            )
        # Starting a producer fences the previous one with its id (and aborts its transaction).
        await asyncio.gather(*(self.producers[tp].start() for tp in new))
        return new

    def schedule(self, new: list[Partition]) -> None:
        """Spread the partitions' first checkpoints over one interval: a snapshot is encoded
        in the event loop, and all of them at once would stall every partition together."""
        interval = self.config.checkpoint_interval_ms / 1000
        for n, tp in enumerate(new):
            self.snapshot_due[tp] = self.wall() + interval * (n + 1) / len(new)

    async def close(self, partitions: list[Partition]) -> list[Partition]:
        """A last snapshot of each partition, then its producer stops; returns those closed."""
        owned = [tp for tp in partitions if tp in self.producers]
        running = [self.in_flight[tp] for tp in owned if tp in self.in_flight]
        await asyncio.gather(*running, return_exceptions=True)
        if self.failed is None:
            await asyncio.gather(*(self.commit(tp, Outputs(), snapshot=True) for tp in owned))
        elif owned:
            log.warning(
                "handing over %d partition(s) without a last snapshot after a failed "
                "transaction: their next owner resumes from what was committed", len(owned)
            )  # fmt: skip
        for tp in owned:
            await self.producers.pop(tp).stop()
            self.snapshot_due.pop(tp, None)
            self.committed_at.pop(tp, None)
            self.uncommitted.discard(tp)
            self.in_flight.pop(tp, None)
        return owned

    def due(self) -> set[Partition]:
        """Partitions to snapshot in this turn: their interval is up, or their clock moves
        need a snapshot to hold them."""
        now = self.wall()
        due = {tp for tp, at in self.snapshot_due.items() if now >= at}
        # Moves wanting a checkpoint are held by the one in flight, if any.
        wanted = self.processor.checkpoints_wanted() - self.checkpointing
        return due | (wanted & set(self.producers))

    def lagging(self) -> set[Partition]:
        """Partitions with an offset still to commit whose commit interval is up: they commit
        in this turn, with or without a batch."""
        return {tp for tp in self.uncommitted if self._commit_due(tp)}

    def _commit_due(self, tp: Partition) -> bool:
        """The commit interval is up since the partition's last transaction (or it had none)."""
        last = self.committed_at.get(tp, -math.inf)
        return self.wall() >= last + self.config.commit_interval_ms / 1000

    # -- transactions in flight -------------------------------------------------------------
    def start(self, tp: Partition, out: Outputs, snapshot: bool = False) -> None:
        """The partition's transaction for `out` and where it now stands (with its snapshot),
        in the background.

        While its previous transaction runs, the batches processed meanwhile wait together
        (`queued`): the next transaction starts as soon as that one ends, with all of them and
        with where the partition stands then. Outputs with nothing to write start none until
        the commit interval since the partition's last transaction is up: their offset and
        clock moves go with the next one (moves are kept until a snapshot holds them). Until
        then a crash replays those records, which wrote nothing, from the offset committed
        before them."""
        if self.failed is not None:
            return  # nothing more may be committed (see `failed`)
        queued = self.queued.get(tp)
        if queued is not None:
            queued.add(out, snapshot)
            return
        running = self.in_flight.get(tp)
        if running is not None and not running.done():
            queued = self.queued[tp] = Queued(out, snapshot)
            self._track(tp, asyncio.create_task(self._after(tp, running, queued)))
            return
        begun = self._begin(tp, out, snapshot)
        if begun is not None:
            self._track(tp, asyncio.create_task(begun))

    def backlogged(self) -> list[Partition]:
        """Partitions with as many batches waiting for a transaction as one may hold: the loop
        waits for them before it reads more."""
        return [tp for tp, q in self.queued.items() if q.batches >= MAX_QUEUED_BATCHES]

    def _track(self, tp: Partition, task: asyncio.Task[None]) -> None:
        # What it raises is kept (`failed`) and raised by `check` and `settle`: retrieved here,
        # so a worker stopping on it does not also log it as never retrieved.
        task.add_done_callback(_retrieve)
        self.in_flight[tp] = task

    def _begin(
        self, tp: Partition, out: Outputs, snapshot: bool
    ) -> Coroutine[None, None, None] | None:
        """The transaction of `out` and where the partition stands now, or None if it has
        nothing to write and its commit interval is not up."""
        now = self.wall()
        if not snapshot and not out.writes() and not self._commit_due(tp):
            fold(self.metrics, out, self.processor.rules, int(now * 1000))
            self.uncommitted.add(tp)
            return None
        self.committed_at[tp] = now
        self.uncommitted.discard(tp)
        return self._transaction(*self._now(tp, out, snapshot))

    async def _after(self, tp: Partition, running: asyncio.Task[None], queued: Queued) -> None:
        """The queued batches' transaction, once the running one has ended."""
        await asyncio.wait([running])  # what it raised is reported through `failed`
        del self.queued[tp]
        if self.failed is not None:
            return  # nothing more may be committed (see `failed`)
        begun = self._begin(tp, queued.out, queued.snapshot)
        if begun is not None:
            await begun

    async def settle(self, partitions: Iterable[Partition]) -> None:
        """Wait for the partitions' transactions in flight; raises what one of them raised."""
        running = [t for t in (self.in_flight.get(tp) for tp in partitions) if t is not None]
        await asyncio.gather(*running)

    async def saved(self, partitions: Iterable[Partition]) -> None:
        """Wait until the partitions' engines are saved (a failed save fails its checkpoint,
        not this wait): they can change again."""
        saving = [t for t in (self.saving.get(tp) for tp in partitions) if t is not None]
        await asyncio.gather(*saving, return_exceptions=True)

    # -- the transaction -------------------------------------------------------------------
    async def commit(self, tp: Partition, out: Outputs, snapshot: bool = False) -> None:
        """One transaction, awaited: the partition's outputs, maybe its state, and its offset.
        Any transaction of the partition in flight is settled first."""
        await self.settle([tp])
        await self._transaction(*self._now(tp, out, snapshot))

    def _now(
        self, tp: Partition, out: Outputs, snapshot: bool
    ) -> tuple[Partition, Outputs, int | None, list[Move], Saving | None]:
        """What a transaction of the partition started now commits: its offset, its clock
        moves and, if asked, its snapshot, all as the partition stands now (the engine's state
        is saved in a thread from now on; the partition waits for it before it changes)."""
        offset = self.processor.positions().get(tp)
        moves = self.processor.moves(tp)
        if not snapshot:
            return tp, out, offset, moves, None
        # The next checkpoint is timed from this one, not from when its transaction ends.
        self.snapshot_due[tp] = self.wall() + self.config.checkpoint_interval_ms / 1000
        capture = self.processor.capture(tp)
        if capture is None:
            return tp, out, offset, moves, None
        saving = asyncio.create_task(asyncio.to_thread(_take, capture))
        self.saving[tp] = saving
        saving.add_done_callback(partial(self._saved, tp))
        self.checkpointing.add(tp)
        return tp, out, offset, moves, saving

    def _saved(self, tp: Partition, saving: Saving) -> None:
        if self.saving.get(tp) is saving:
            del self.saving[tp]
        _retrieve(saving)  # the transaction that sends it reports what it raised
        self.on_saved(tp)

    async def _transaction(
        self,
        tp: Partition,
        out: Outputs,
        offset: int | None,
        moves: list[Move],
        snapshot: Saving | None = None,
    ) -> None:
        try:
            await self._write(tp, out, offset, moves, snapshot)
        except BaseException as exc:
            self.failed = self.failed or exc
            raise
        finally:
            if snapshot is not None:
                self.checkpointing.discard(tp)

    async def _write(
        self,
        tp: Partition,
        out: Outputs,
        offset: int | None,
        moves: list[Move],
        snapshot: Saving | None,
    ) -> None:
        producer = self.producers.get(tp)
        if producer is None or not (offset is not None or out.writes()):
            return
        cfg = self.config
        source = state_key(*tp)
        checkpointed = False
        async with producer.transaction():
            sends = [
                producer.send(cfg.pager_topic, value=v, key=k, headers=[(SOURCE_HEADER, source)])
                for k, v in out.pages
            ]
            sends += [
                producer.send(cfg.shadow_topic, value=v, key=k, headers=held(source, "shadow"))
                for k, v in out.shadow_pages
            ]
            sends += [
                producer.send(
                    cfg.shadow_topic, value=v, key=k, headers=held(source, "snoozed", snooze)
                )
                for k, v, snooze in out.snoozed
            ]
            sends += [producer.send(t, value=v, partition=p) for t, p, v in out.forwards]
            sends += [self._dead_letter(producer, d) for d in out.dead]
            if snapshot is not None:
                sends.append(self._snapshot(producer, tp, snapshot))
            if sends:
                # Wait for delivery, not only for the queue: a record the broker refuses must
                # abort the transaction (and its offset), never pass silently.
                queued = await asyncio.gather(*sends)
                checkpointed = snapshot is not None and queued[-1] is not None
                await asyncio.gather(*(f for f in queued if f is not None))
            if offset is not None:
                # The clock moves since the last snapshot go with the offset (a snapshot in
                # this transaction holds them): a restore makes them again where they were made.
                metadata = encode_moves([] if checkpointed else moves)
                await producer.send_offsets_to_transaction(
                    {TopicPartition(*tp): OffsetAndMetadata(offset, metadata)}, cfg.group_id
                )
        self.commits += 1
        if checkpointed:
            self.processor.checkpointed(tp, moves)
        fold(self.metrics, out, self.processor.rules, int(self.wall() * 1000))

    async def _dead_letter(self, producer: AIOKafkaProducer, dead: DeadLetter) -> object:
        """Send a dead letter; one the DLQ topic cannot hold keeps only its headers.

        The headers name the source partition and offset, so the original stays findable in
        the input topic for as long as that topic retains it.
        """
        value, headers = dead.value, list(dead.headers)
        size = len(value or b"") + sum(len(k) + len(v) for k, v in headers) + len(dead.key or b"")
        if size + RECORD_OVERHEAD > self.dlq_limit:
            headers.append(("value_omitted_bytes", str(len(value or b"")).encode()))
            value = b""
            log.warning("dead letter over the DLQ topic's limit: value omitted, headers kept")
        return await producer.send(
            self.config.dlq_topic, value=value, key=dead.key, headers=headers
        )

    async def _snapshot(self, producer: AIOKafkaProducer, tp: Partition, saving: Saving) -> object:
        """Send the snapshot taken when this transaction started. Its page log starts at the
        pager's ends read now: after every page of the partition's earlier transactions (all
        committed), before any of its later ones (none starts before this one ends)."""
        assert self.reader is not None
        pager = [TopicPartition(self.config.pager_topic, p) for p in range(self.pager_partitions)]
        ends = await self.reader.end_offsets(pager)
        try:
            snap, saved = await saving
            snap = replace(snap, pager_ends={t.partition: ends[t] for t in pager})
            started = time.perf_counter()
            # zlib lets go of the GIL: the loop goes on with the next batch meanwhile.
            blob = await asyncio.to_thread(snap.encode)
            sent = await producer.send(
                state_topic(self.config, tp[0]), value=blob, key=state_key(*tp), partition=tp[1]
            )
        except Exception:  # a state that cannot be written must not stop the pages
            log.exception("checkpoint of %s[%d] failed; the last good one stays", *tp)
            self.metrics.checkpoint_failures.inc()
            return None
        self.metrics.checkpoint_duration.observe(saved + time.perf_counter() - started)
        return sent


@dataclass(slots=True)
class Queued:
    """What a partition's next transaction commits, gathered while its previous one runs."""

    out: Outputs
    snapshot: bool
    batches: int = 1

    def add(self, out: Outputs, snapshot: bool) -> None:
        self.out.extend(out)
        self.snapshot = self.snapshot or snapshot
        self.batches += 1


def _retrieve(task: asyncio.Task[T]) -> None:
    if not task.cancelled():
        task.exception()


def _take(capture: Capture) -> tuple[Snapshot, float]:
    """The snapshot (its page log's start is set when it is written), and the seconds it took."""
    started = time.perf_counter()
    snap = capture.take({})
    return snap, time.perf_counter() - started
