"""The worker's Kafka edge: consume batches with aiokafka, run the processor, produce pages,
dead letters and repartitioned events, then commit offsets.

Offsets are committed only after every record the batch caused has been acknowledged by the
brokers (acks=all, idempotent producer), so nothing is lost: after a crash the worker resumes
from the last committed offsets and pagers collapse a repeated page by its dedup key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from alerting.metrics import Metrics
from signalfire.rules import RuleSetError, load_rules
from signalfire.rules.loader import rule_files
from signalfire.rules.model import Rule
from streams.config import WorkerConfig
from streams.merge import MARKER_HEADER
from streams.processor import Outputs, Processor

log = logging.getLogger("signalfire.worker")
DEFAULT_PARTITIONS = 4
POLL_MS = 100


def rules_fingerprint(directory: str) -> tuple[tuple[str, int, int], ...]:
    """What changes when a rule file is edited, added or removed."""
    found = []
    for path in rule_files([directory]):
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(found)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.pipeline.commit()
        self.pipeline.processor.revoke((tp.topic, tp.partition) for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        processor = self.pipeline.processor
        processor.assign((tp.topic, tp.partition) for tp in assigned)
        consumer = self.pipeline.consumer
        if consumer is not None:
            for tp in assigned:
                work = processor.works.get((tp.topic, tp.partition))
                committed = await consumer.committed(tp)
                if work is not None and work.next_offset is None and committed is not None:
                    work.next_offset = committed
        self.pipeline.assigned = True


class Pipeline:
    def __init__(
        self,
        config: WorkerConfig,
        rules: list[Rule],
        metrics: Metrics,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.wall = wall
        self.processor = Processor(config, rules, wall)
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.assigned = False
        self.running = False
        self.last_loop = 0.0
        self.reload_requested = False
        self._fingerprint = rules_fingerprint(config.rules)
        self._next_reload_check = 0.0
        metrics.rules_loaded.set(len(rules))

    @property
    def ready(self) -> bool:
        return self.running and self.assigned

    @property
    def healthy(self) -> bool:
        return self.running and self.wall() - self.last_loop < 30

    async def start(self) -> None:
        opts = self.config.kafka_options()
        await self.ensure_topics()
        self.producer = AIOKafkaProducer(
            **opts, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=1 << 20
        )
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            **opts,
            group_id=self.config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            isolation_level="read_committed",
        )
        self.consumer.subscribe(self.processor.topics(), listener=_Rebalance(self))
        await self.consumer.start()
        self.running = True
        self.metrics.worker_up.set(1)

    async def stop(self) -> None:
        self.running = False
        self.metrics.worker_ready.set(0)
        try:
            await self.commit()
        finally:
            if self.consumer is not None:
                await self.consumer.stop()
            if self.producer is not None:
                await self.producer.stop()
            self.metrics.worker_up.set(0)

    async def ensure_topics(self) -> None:
        """Create the output and repartition topics that do not exist yet."""
        admin = AIOKafkaAdminClient(**self.config.kafka_options())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            partitions = DEFAULT_PARTITIONS
            if self.config.events_topic in existing:
                meta = await admin.describe_topics([self.config.events_topic])
                partitions = max(1, len(meta[0].get("partitions", [])) or DEFAULT_PARTITIONS)
            self.processor.partitions = partitions
            wanted = [self.config.events_topic, self.config.pager_topic, self.config.dlq_topic]
            wanted += self.processor.topics()[1:]
            missing = [t for t in dict.fromkeys(wanted) if t not in existing]
            if missing:
                await admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                )
                log.info("created topics %s", ", ".join(missing))
        finally:
            await admin.close()

    async def run(self) -> None:
        """Consume until stopped."""
        assert self.consumer is not None
        while self.running:
            self.last_loop = self.wall()
            batches = await self.consumer.getmany(
                timeout_ms=POLL_MS, max_records=self.config.batch_records
            )
            out = Outputs()
            started = time.perf_counter()
            for tp, records in batches.items():
                out.extend(self.processor.process((tp.topic, tp.partition), records))
                self.metrics.events_consumed.labels(topic=tp.topic).inc(len(records))
            out.extend(self.processor.tick(self.pending()))
            if batches:
                self.metrics.batch_duration.observe(time.perf_counter() - started)
            await self.deliver(out)
            if batches:
                await self.commit()
            self.align()
            self.metrics.worker_ready.set(1 if self.ready else 0)
            await self.maybe_reload()

    async def deliver(self, out: Outputs) -> None:
        """Send everything one step produced and wait until the brokers have it."""
        assert self.producer is not None
        producer, cfg = self.producer, self.config
        sends = [producer.send(cfg.pager_topic, value=v, key=k) for k, v in out.pages]
        # Events from several input partitions meet in a repartition topic: send them in event
        # time order so that the family's partitions see them as in order as possible.
        out.forwards.sort(key=lambda f: f[0])
        sends += [
            producer.send(t, value=v, key=k, partition=p)
            if p is None
            else producer.send(t, value=v, partition=p, headers=[(MARKER_HEADER, b"1")])
            for _, t, k, v, p in out.forwards
        ]
        sends += [
            producer.send(cfg.dlq_topic, value=d.value, key=d.key, headers=d.headers)
            for d in out.dead
        ]
        if sends:
            futures = await asyncio.gather(*sends)
            await asyncio.gather(*futures)
        self._count(out)

    def _count(self, out: Outputs) -> None:
        m = self.metrics
        m.events_decoded.inc(out.decoded)
        m.events_late.inc(out.late)
        for dead in out.dead:
            m.dead_lettered(dict(dead.headers)["error"].decode("utf-8", "replace"))
        now_ms = int(self.wall() * 1000)
        for alert in out.alerts:
            rule = self.processor.rules.get(alert.rule_id)
            if rule is not None:
                m.alert(rule.id, rule.severity, alert.action)
            if alert.action == "trigger":
                m.page_latency(alert.at, now_ms)
        names = (m.rule_matches, m.rule_triggers, m.rule_resolves, m.rule_suppressed,
                 m.rule_cap_evictions, m.rule_late_events)  # fmt: skip
        for rule_id, delta in out.rule_deltas.items():
            for counter, d in zip(names, delta, strict=True):
                if d:
                    counter.labels(rule=rule_id).inc(d)

    def pending(self) -> list[tuple[str, int]]:
        """Assigned partitions with records still to read (behind the end, or paused)."""
        assert self.consumer is not None
        paused = self.consumer.paused()
        found = []
        for (topic, partition), work in self.processor.works.items():
            tp = TopicPartition(topic, partition)
            end = self.consumer.highwater(tp)
            if tp in paused or end is None or (work.next_offset or 0) < end:
                found.append((topic, partition))
        return found

    def align(self) -> None:
        """Keep input partitions within half the allowed lateness of each other in event time.

        Their events meet again in the repartition topics; a partition far ahead (typical when
        catching up on a backlog) would make the others' events late there. Partitions with
        nothing left to read do not hold the others back.
        """
        assert self.consumer is not None
        slack = self.config.lateness_ms // 2
        clocks = self.processor.input_clocks()
        behind: dict[TopicPartition, int] = {}
        for (topic, partition), (now, next_offset) in clocks.items():
            tp = TopicPartition(topic, partition)
            end = self.consumer.highwater(tp)
            if end is None or next_offset is None or next_offset < end:
                behind[tp] = now
        paused = set(self.consumer.paused())
        if not behind:
            if paused:
                self.consumer.resume(*paused)
            return
        floor = min(behind.values())
        ahead = {tp for tp, now in behind.items() if now > floor + slack}
        if ahead - paused:
            self.consumer.pause(*(ahead - paused))
        if (paused & set(behind)) - ahead:
            self.consumer.resume(*((paused & set(behind)) - ahead))
        done = paused - set(behind)
        if done:
            self.consumer.resume(*done)

    async def commit(self) -> None:
        if self.consumer is None:
            return
        positions = self.processor.positions()
        if positions:
            await self.consumer.commit(
                {TopicPartition(t, p): offset for (t, p), offset in positions.items()}
            )

    async def maybe_reload(self) -> None:
        """Reload the rules on SIGHUP or when the directory changed; keep the old set on error."""
        now = self.wall()
        if not self.reload_requested and now < self._next_reload_check:
            return
        self._next_reload_check = now + self.config.reload_interval_ms / 1000
        fingerprint = rules_fingerprint(self.config.rules)
        if not self.reload_requested and fingerprint == self._fingerprint:
            return
        self.reload_requested = False
        self._fingerprint = fingerprint
        try:
            ruleset = load_rules([Path(self.config.rules)])
        except RuleSetError as exc:
            for problem in exc.problems:
                log.error("rules reload rejected: %s", problem)
            self.metrics.rules_reloaded(ok=False, loaded=len(self.processor.rules))
            return
        old_topics = self.processor.topics()
        for rule_id in self.processor.rules:
            self.metrics.forget_rule(rule_id)
        self.processor.set_rules(ruleset.rules)
        self.metrics.rules_reloaded(ok=True, loaded=len(ruleset.rules))
        log.info("rules reloaded: %d rule(s)", len(ruleset.rules))
        if self.processor.topics() != old_topics and self.consumer is not None:
            await self.ensure_topics()
            self.consumer.subscribe(self.processor.topics(), listener=_Rebalance(self))

    def refresh_gauges(self) -> None:
        for rule_id, n in self.processor.group_counts().items():
            self.metrics.rule_groups.labels(rule=rule_id).set(n)
