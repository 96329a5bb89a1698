"""The worker's Kafka edge: consume batches with aiokafka, run the processor, and write each
partition's outputs, state and offsets in one Kafka transaction.

Every assigned partition has its own transactional producer (its transactional id follows
the partition, so a restarted or new owner fences the old one). What a batch causes -- pages,
dead letters, repartitioned events, watermark markers, now and then a state snapshot -- and
the input offset are committed together: readers with `isolation_level=read_committed` see
each page once, and after a crash nothing is lost or repeated (see streams/state.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from alerting.metrics import Metrics
from signalfire.rules.model import Rule
from signalfire.runtime import StateFreezer
from streams import alignment
from streams.clients import KafkaClients
from streams.config import WorkerConfig
from streams.counters import fold, refresh_gauges
from streams.outputs import Outputs, Partition
from streams.processor import Processor
from streams.records import DeadLetter
from streams.reload import RuleReload
from streams.state import (
    MAX_SNAPSHOT_BYTES,
    SOURCE_HEADER,
    Snapshot,
    committed_offsets,
    encode_moves,
    read_last,
    read_page_logs,
    state_key,
)
from streams.topics import DEFAULT_MAX_MESSAGE_BYTES, ensure_topics, state_topic

log = logging.getLogger("signalfire.worker")
RECORD_OVERHEAD = 1024  # batch and record headers, generously
POLL_MS = 100
FREEZE_INTERVAL_S = 1.0
RETRY_BACKOFF_MS = 10


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    # In a fixed order (the sets' order changes with the process's string hashing): the first
    # checkpoints are spread over partitions in this order, and a run is reproducible.
    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.pipeline.hand_over(sorted((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.pipeline.take_over(sorted((tp.topic, tp.partition) for tp in assigned))


class Pipeline:
    def __init__(
        self,
        config: WorkerConfig,
        rules: list[Rule],
        metrics: Metrics,
        wall: Callable[[], float] = time.time,
        clients: KafkaClients | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.wall = wall
        self.clients = clients or KafkaClients()
        self.processor = Processor(config, rules, wall)
        self.consumer: AIOKafkaConsumer | None = None
        self.reader: AIOKafkaConsumer | None = None
        self.producers: dict[Partition, AIOKafkaProducer] = {}
        self.snapshot_due: dict[Partition, float] = {}
        self.pager_partitions = 1
        self.dlq_limit = DEFAULT_MAX_MESSAGE_BYTES
        # Held while a batch is processed and committed, and while partitions change hands
        # (the rebalance callbacks run beside the consume loop).
        self.lock = asyncio.Lock()
        self.assigned = False
        self.running = False
        self.last_loop = 0.0
        self.reload = RuleReload(config.rules, config.reload_interval_ms, metrics)
        self.freezer = StateFreezer(FREEZE_INTERVAL_S, wall())
        metrics.rules_loaded.set(len(rules))

    @property
    def ready(self) -> bool:
        return self.running and self.assigned

    @property
    def healthy(self) -> bool:
        return self.running and self.wall() - self.last_loop < 30

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        opts = self.config.kafka_options()
        await self.ensure_topics()
        self.reader = self.clients.consumer(
            **opts,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=MAX_SNAPSHOT_BYTES + (1 << 20),
        )
        await self.reader.start()
        self.consumer = self.clients.consumer(
            **opts,
            group_id=self.config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            isolation_level="read_committed",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            # Static membership: a restarted worker rejoins as itself and gets its partitions
            # back at once, without waiting out the dead process's session.
            group_instance_id=self.config.instance_id or None,
        )
        self.consumer.subscribe(self.processor.topics(), listener=_Rebalance(self))
        await self.consumer.start()
        self.running = True
        self.metrics.worker_up.set(1)

    async def stop(self) -> None:
        self.running = False
        self.metrics.worker_ready.set(0)
        try:
            await self.hand_over(list(self.producers))
        finally:
            if self.consumer is not None:
                await self.consumer.stop()
            if self.reader is not None:
                await self.reader.stop()
            self.metrics.worker_up.set(0)

    async def ensure_topics(self) -> None:
        """Create the output, repartition and state topics that do not exist yet."""
        sizes = await ensure_topics(self.clients, self.config, self.processor.topics())
        self.processor.partitions = sizes.partitions
        self.pager_partitions = sizes.pager_partitions
        self.dlq_limit = sizes.dlq_limit

    # -- ownership -------------------------------------------------------------------------
    async def take_over(self, partitions: list[Partition]) -> None:
        """New partitions: restore their state, fence their previous owner, replay if needed.

        They stay paused until ready, and each is positioned explicitly, so records fetched
        before the hand-over completed are read again rather than lost.
        """
        assert self.consumer is not None
        ktps = [TopicPartition(*tp) for tp in partitions]
        self.consumer.pause(*ktps)
        async with self.lock:
            await self._take_over(partitions)
        owned = set(self.consumer.assignment())
        self.consumer.resume(*(tp for tp in ktps if tp in owned))
        self.assigned = True

    async def _take_over(self, partitions: list[Partition]) -> None:
        assert self.consumer is not None and self.reader is not None
        opts = self.config.kafka_options()
        new = [
            tp for tp in partitions
            if self.processor.family_of_topic(tp[0]) is not None and tp not in self.producers
        ]  # fmt: skip
        for tp in new:
            producer = self.clients.producer(
                **opts,
                transactional_id=f"{self.config.group_id}.{tp[0]}.{tp[1]}",
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                # A transaction begun right after the previous commit is refused with
                # CONCURRENT_TRANSACTIONS until the broker has written the markers; the client
                # retries after this backoff (100 ms by default: up to 100 ms on every page).
                retry_backoff_ms=RETRY_BACKOFF_MS,
                max_batch_size=1 << 20,
                max_request_size=MAX_SNAPSHOT_BYTES + (1 << 20),
            )
            self.producers[tp] = producer
        # Starting a producer fences the previous one with its id (and aborts its
        # transaction); state is read for all partitions in one pass.
        await asyncio.gather(*(self.producers[tp].start() for tp in new))
        state_tps = {TopicPartition(state_topic(self.config, t), p): (t, p) for t, p in new}
        blobs = await read_last(self.reader, {k: state_key(*tp) for k, tp in state_tps.items()})
        snapshots = {
            state_tps[k]: snap for k, blob in blobs.items() if (snap := Snapshot.decode(blob))
        }
        committed = await committed_offsets(self.consumer, new)
        # A partition with committed offsets (or clock moves) but no snapshot yet -- its owner
        # died before the first checkpoint -- is rebuilt from the start of its topic.
        from_start = [
            tp for tp, (offset, moves) in committed.items()
            if tp not in snapshots and (offset or moves)
        ]  # fmt: skip
        everything = dict.fromkeys(range(self.pager_partitions), 0)
        since = {state_key(*tp): snap.pager_ends for tp, snap in snapshots.items()}
        since.update({state_key(*tp): everything for tp in from_start})
        logs = await read_page_logs(self.reader, self.config.pager_topic, since)
        for tp in new:
            ktp = TopicPartition(*tp)
            snapshot = snapshots.get(tp)
            offset, moves = committed[tp]
            if snapshot is None:
                if tp in from_start:
                    self.processor.rebuild(tp, offset, logs[state_key(*tp)], moves)
                    log.info(
                        "rebuilding %s[%d] from the start up to offset %s (%d clock move(s))",
                        tp[0], tp[1], offset, len(moves),
                    )  # fmt: skip
                else:
                    self.processor.assign([tp])
                await self.consumer.seek_to_beginning(ktp)
                if offset is not None and tp not in from_start:
                    self.consumer.seek(ktp, offset)  # committed 0: nothing to rebuild
            else:
                page_log = logs[state_key(*tp)]
                start = self.processor.restore(tp, snapshot, offset, page_log, moves)
                self.consumer.seek(ktp, start)
                log.info(
                    "restored %s[%d] at offset %d (committed %s, %d clock move(s), %d page(s) "
                    "logged)", tp[0], tp[1], start, offset, len(moves), sum(page_log.values()),
                )  # fmt: skip
        if snapshots:
            self.freezer.due = 0.0  # restored state is long-lived: freeze it at once
        # Spread the partitions' first checkpoints over one interval: a snapshot is encoded
        # in the event loop, and all of them at once would stall every partition together.
        interval = self.config.checkpoint_interval_ms / 1000
        for n, tp in enumerate(new):
            self.snapshot_due[tp] = self.wall() + interval * (n + 1) / len(new)

    async def hand_over(self, partitions: list[Partition]) -> None:
        """Partitions leaving this worker: a last snapshot, then their producers stop."""
        async with self.lock:
            owned = [tp for tp in partitions if tp in self.producers]
            await asyncio.gather(*(self.commit(tp, Outputs(), snapshot=True) for tp in owned))
            for tp in owned:
                await self.producers.pop(tp).stop()
                self.snapshot_due.pop(tp, None)
            self.processor.revoke(owned)

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        """Consume until stopped."""
        while self.running:
            await self.poll()

    async def poll(self) -> None:
        """One turn of the loop: a batch per partition, the idle check, their transactions."""
        assert self.consumer is not None
        self.last_loop = self.wall()
        batches = await self.consumer.getmany(
            timeout_ms=POLL_MS, max_records=self.config.batch_records
        )
        async with self.lock:
            await self._step(batches)
        alignment.align(self.consumer, self.processor, self.config.lateness_ms // 2)
        alignment.report_lag(self.consumer, self.processor, self.metrics)
        self.freezer.maybe_freeze(self.wall())
        self.metrics.worker_ready.set(1 if self.ready else 0)
        await self.maybe_reload()

    async def _step(self, batches: dict[TopicPartition, list[Any]]) -> None:
        assert self.consumer is not None
        started = time.perf_counter()
        outs: dict[Partition, Outputs] = {}
        for ktp, records in batches.items():
            tp = (ktp.topic, ktp.partition)
            if tp not in self.producers:
                continue  # fetched before the hand-over: read again from the set position
            outs[tp] = self.processor.process(tp, records)
            self.metrics.events_consumed.labels(topic=ktp.topic).inc(len(records))
        pending = alignment.pending(self.consumer, self.processor)
        for tp, out in self.processor.tick(pending).items():
            outs.setdefault(tp, Outputs()).extend(out)
        if batches:
            self.metrics.batch_duration.observe(time.perf_counter() - started)
        now = self.wall()
        due = {tp for tp, at in self.snapshot_due.items() if now >= at}
        due |= self.processor.checkpoints_wanted() & set(self.producers)
        await asyncio.gather(
            *(self.commit(tp, out, snapshot=tp in due) for tp, out in outs.items()),
            *(self.commit(tp, Outputs(), snapshot=True) for tp in sorted(due - set(outs))),
        )

    async def commit(self, tp: Partition, out: Outputs, snapshot: bool = False) -> None:
        """One transaction: the partition's outputs, maybe its state, and its offset."""
        producer = self.producers.get(tp)
        offset = self.processor.positions().get(tp)
        if producer is None or not (offset is not None or out.pages or out.dead or out.forwards):
            return
        cfg = self.config
        source = state_key(*tp)
        checkpointed = False
        async with producer.transaction():
            sends = [
                producer.send(cfg.pager_topic, value=v, key=k, headers=[(SOURCE_HEADER, source)])
                for k, v in out.pages
            ]
            sends += [producer.send(t, value=v, partition=p) for t, p, v in out.forwards]
            sends += [self._dead_letter(producer, d) for d in out.dead]
            if snapshot:
                sends.append(self._snapshot(producer, tp))
            if sends:
                # Wait for delivery, not only for the queue: a record the broker refuses must
                # abort the transaction (and its offset), never pass silently.
                queued = await asyncio.gather(*sends)
                checkpointed = snapshot and queued[-1] is not None
                await asyncio.gather(*(f for f in queued if f is not None))
            if offset is not None:
                # The clock moves since the last snapshot go with the offset (a snapshot in
                # this transaction holds them): a restore makes them again where they were made.
                moves = [] if checkpointed else self.processor.moves(tp)
                await producer.send_offsets_to_transaction(
                    {TopicPartition(*tp): OffsetAndMetadata(offset, encode_moves(moves))},
                    cfg.group_id,
                )
        if checkpointed:
            self.processor.checkpointed(tp)
        fold(self.metrics, out, self.processor.rules, int(self.wall() * 1000))

    async def _dead_letter(self, producer: AIOKafkaProducer, dead: DeadLetter) -> Any:
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

    async def _snapshot(self, producer: AIOKafkaProducer, tp: Partition) -> object:
        self.snapshot_due[tp] = self.wall() + self.config.checkpoint_interval_ms / 1000
        assert self.reader is not None
        pager = [TopicPartition(self.config.pager_topic, p) for p in range(self.pager_partitions)]
        ends = await self.reader.end_offsets(pager)
        started = time.perf_counter()
        snap = self.processor.snapshot(tp, {t.partition: ends[t] for t in pager})
        if snap is None:
            return None
        try:
            blob = snap.encode()
            sent = await producer.send(
                state_topic(self.config, tp[0]), value=blob, key=state_key(*tp), partition=tp[1]
            )
        except Exception:  # a state that cannot be written must not stop the pages
            log.exception("checkpoint of %s[%d] failed; the last good one stays", *tp)
            self.metrics.checkpoint_failures.inc()
            return None
        self.metrics.checkpoint_duration.observe(time.perf_counter() - started)
        return sent

    # -- rules -----------------------------------------------------------------------------
    async def maybe_reload(self) -> None:
        """Reload the rules on SIGHUP or when the directory changed; keep the old set on error."""
        rules = self.reload.check(self.wall(), len(self.processor.rules))
        if rules is None:
            return
        old_topics = self.processor.topics()
        for rule_id in self.processor.rules:
            self.metrics.forget_rule(rule_id)
        self.processor.set_rules(rules)
        self.metrics.rules_reloaded(ok=True, loaded=len(rules))
        log.info("rules reloaded: %d rule(s)", len(rules))
        if self.processor.topics() != old_topics and self.consumer is not None:
            await self.ensure_topics()
            self.consumer.subscribe(self.processor.topics(), listener=_Rebalance(self))

    def refresh_gauges(self) -> None:
        refresh_gauges(self.metrics, self.processor, int(self.wall() * 1000))
