"""The worker's Kafka edge: consume batches with aiokafka, run the processor, and write each
partition's outputs, state and offsets in one Kafka transaction.

`Pipeline` coordinates; each job has its module: the topics (streams/topics.py), partitions
changing hands (streams/ownership.py), the transactions (streams/transactions.py) and what a
failed one leads to (streams/retakes.py), lag and alignment (streams/alignment.py), rules hot
reload (streams/reload.py) and the metrics folded from the outputs (streams/counters.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from alerting.metrics import Metrics
from signalfire.gc_tuning import StateFreezer
from signalfire.rules.model import Rule
from streams import alignment, ownership, retakes
from streams.clients import KafkaClients
from streams.config import WorkerConfig
from streams.control import ControlReader
from streams.counters import refresh_gauges
from streams.outputs import Outputs, Partition
from streams.processor import Processor
from streams.records import Record
from streams.reload import RuleReload
from streams.state import MAX_SNAPSHOT_BYTES
from streams.topics import ensure_topics
from streams.transactions import Transactions

log = logging.getLogger("signalfire.worker")
POLL_MS = 100
FREEZE_INTERVAL_S = 1.0


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
        self.control = ControlReader(
            self.clients, config.kafka.options(), config.control_topic,
            self.processor.emitter.snoozes,
        )  # fmt: skip
        self.txns = Transactions(config, self.processor, metrics, wall, self.clients)
        # A partition is paused while its engine is saved (`alignment.align`), then read on.
        self.txns.on_saved = self._resume
        self.retakes = retakes.Retakes()
        self.reload = RuleReload(config.rules, config.reload_interval_ms, metrics)
        self.consumer: AIOKafkaConsumer | None = None
        # Held while a batch is processed and its transaction started or queued, and while
        # partitions change hands (the rebalance callbacks run beside the consume loop; a
        # hand-over waits for the partitions' queued transactions before its last snapshots).
        self.lock = asyncio.Lock()
        self.assigned = False
        self.running = False
        self.last_loop = 0.0
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
        opts = self.config.kafka.options()
        await self.ensure_topics()
        # Every snooze in force before the first event: a restarted worker never pages what
        # an investigator had snoozed.
        await self.control.start()
        self.metrics.snoozes_active.set(len(self.control.book))
        reader = self.txns.reader = self.clients.consumer(
            **opts,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=MAX_SNAPSHOT_BYTES + (1 << 20),
        )
        await reader.start()
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
            await self.hand_over(list(self.txns.producers))
        finally:
            if self.consumer is not None:
                await self.consumer.stop()
            if self.txns.reader is not None:
                await self.txns.reader.stop()
            await self.control.stop()
            self.metrics.worker_up.set(0)

    async def ensure_topics(self) -> None:
        """Create the output, repartition and state topics that do not exist yet."""
        sizes = await ensure_topics(self.clients, self.config, self.processor.topics())
        self.processor.partitions = sizes.partitions
        self.txns.pager_partitions = sizes.pager_partitions
        self.txns.shadow_partitions = sizes.shadow_partitions
        self.txns.dlq_limit = sizes.dlq_limit

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
            restored = await ownership.take_over(
                partitions, self.config, self.processor, self.txns, self.consumer
            )
            if restored:
                self.freezer.due = 0.0  # restored state is long-lived: freeze it at once
        owned = set(self.consumer.assignment())
        self.consumer.resume(*(tp for tp in ktps if tp in owned))
        self.assigned = True

    async def hand_over(self, partitions: list[Partition]) -> None:
        async with self.lock:
            await ownership.hand_over(partitions, self.processor, self.txns)

    async def retake(self, failure: BaseException) -> None:
        """A transaction failed: the state in memory is ahead of what is committed. Hand every
        partition over without a last snapshot and take the assigned ones over again from what
        was committed, after a wait (streams/retakes.py); raises `failure` if the worker must
        stop instead. What fails on the way is met the same way at the next turn."""
        assert self.consumer is not None
        wait_s = self.retakes.wait(failure, self.txns.commits)
        self.metrics.transaction_retakes.inc()
        log.warning(
            "a transaction failed (%s: %s): taking the partitions over again from what was "
            "committed in %.1f s (attempt %d of %d)",
            type(failure).__name__, failure, wait_s, self.retakes.in_a_row, retakes.ATTEMPTS,
        )  # fmt: skip
        try:
            await self.hand_over(list(self.txns.producers))
            self.txns.failed = None
            await self.retakes.sleep(wait_s)
            self.last_loop = self.wall()  # waiting for the broker is not a stuck loop
            await self.take_over(sorted((t.topic, t.partition) for t in self.consumer.assignment()))
        except Exception as exc:
            self.txns.failed = exc

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        """Consume until stopped."""
        while self.running:
            await self.poll()

    async def poll(self) -> None:
        """One turn of the loop: a batch per partition, the idle check, their transactions."""
        consumer = self.consumer
        assert consumer is not None
        self.last_loop = self.wall()
        batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=self.config.batch_records)
        if self.txns.failed is not None:
            await self.retake(self.txns.failed)
            return
        if await self.control.poll():
            self.metrics.snoozes_active.set(len(self.control.book))
        async with self.lock:
            await self._step(batches)
        alignment.align(
            consumer, self.processor, self.config.lateness_ms // 2, set(self.txns.saving)
        )
        alignment.report_lag(consumer, self.processor, self.metrics)
        self.freezer.maybe_freeze(self.wall())
        self.metrics.worker_ready.set(1 if self.ready else 0)
        await self.maybe_reload()

    async def settle(self) -> None:
        """Wait for every transaction in flight."""
        await self.txns.settle(list(self.txns.in_flight))

    async def _step(self, batches: dict[TopicPartition, list[Record]]) -> None:
        assert self.consumer is not None
        # A partition whose transactions fall that far behind holds the loop back.
        await self.txns.settle(self.txns.backlogged())
        started = time.perf_counter()
        outs: dict[Partition, Outputs] = {}
        for ktp, records in batches.items():
            tp = (ktp.topic, ktp.partition)
            if tp not in self.txns.producers:
                continue  # fetched before the hand-over: read again from the set position
            if tp in self.txns.saving:
                # Its engine is being saved (its checkpoint) and must not change yet: the batch
                # is read again once the save is done, and the loop goes on meanwhile.
                self.consumer.seek(ktp, records[0].offset)
                continue
            outs[tp] = self._process(tp, records)
        # Idle partitions being saved now are moved on at a later turn.
        pending = [*alignment.pending(self.consumer, self.processor), *self.txns.saving]
        for tp, out in self.processor.tick(pending).items():
            outs.setdefault(tp, Outputs()).extend(out)
        if batches:
            self.metrics.batch_duration.observe(time.perf_counter() - started)
        # A partition's transaction starts now, or as soon as its previous one ends (the loop
        # goes on meanwhile). Partitions whose batches wrote nothing commit their offset once
        # their interval is up.
        due = self.txns.due()
        for tp in sorted(set(outs) | due | self.txns.lagging()):
            self.txns.start(tp, outs.get(tp, Outputs()), snapshot=tp in due)

    def _resume(self, tp: Partition) -> None:
        """Its engine is saved (its checkpoint): read on. Alignment pauses it again at the end
        of the turn if it is ahead of the others."""
        ktp = TopicPartition(*tp)
        if self.consumer is not None and ktp in self.consumer.assignment():
            self.consumer.resume(ktp)

    def _process(self, tp: Partition, records: list[Record]) -> Outputs:
        self.metrics.events_consumed.labels(topic=tp[0]).inc(len(records))
        return self.processor.process(tp, records)

    # -- rules -----------------------------------------------------------------------------
    async def maybe_reload(self) -> None:
        """Reload the rules on SIGHUP or when the directory changed; keep the old set on error."""
        rules = self.reload.check(self.wall(), len(self.processor.rules))
        if rules is None:
            return
        old_topics = self.processor.topics()
        for rule_id in self.processor.rules:
            self.metrics.forget_rule(rule_id)
        async with self.lock:  # not while a hand-over's last snapshots are taken
            await self.txns.saved(list(self.txns.saving))  # every engine reloads
            self.processor.set_rules(rules)
        self.metrics.rules_reloaded(ok=True, loaded=len(rules))
        log.info("rules reloaded: %d rule(s)", len(rules))
        if self.processor.topics() != old_topics and self.consumer is not None:
            await self.ensure_topics()
            self.consumer.subscribe(self.processor.topics(), listener=_Rebalance(self))

    def refresh_gauges(self) -> None:
        refresh_gauges(self.metrics, self.processor, int(self.wall() * 1000))
