"""`signalfire bridge`: pager topic -> Alertmanager / PagerDuty / webhooks.

One consumer reads the pager topic (read_committed, so only pages of committed worker
transactions). Each message is decoded (one that is not a page goes to the `pager.dlq` topic
with the reason), redacted, routed, and queued to every sink it goes to; each sink delivers its
queue in order (a trigger never overtakes its resolve) on its own task, so a sink that is down
or slow holds only its own queue. A message a sink refuses for good, or that runs out of
retries, goes to `pager.dlq` too. A partition's offset is committed only up to the oldest
message some sink has not yet delivered or dead-lettered, so after a crash nothing is skipped;
what is re-delivered collapses downstream on its dedup key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from alerting.bridge_config import BridgeConfig, SinkSpec
from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import HttpRequest, RateLimiter, Result, Transport, deliver
from alerting.offsets import OffsetTracker
from alerting.pager import MessageError, PagerMessage, decode, encode
from alerting.routing import sinks_for
from alerting.sinks.base import Refused, Sink
from streams.bridge_settings import BridgeSettings
from streams.clients import KafkaClients
from streams.kafka_config import KafkaOptions

log = logging.getLogger("signalfire.bridge")

QUEUE_SIZE = 10_000  # per sink; a full queue pauses consumption (backpressure)
COMMIT_INTERVAL_S = 1.0
RESEND_TICK_S = 1.0
DLQ_RETRY_S = 2.0


@dataclass(slots=True)
class Job:
    partition: int
    offset: int | None  # None for a re-send, which owes no offset
    message: PagerMessage | None  # None for a re-send and for a record that is not a page
    body: bytes  # the redacted message as sent to webhooks
    raw: bytes  # the record as read, for the dead-letter topic
    read_at: float
    request: HttpRequest | None = None  # set for re-sends


Done = Callable[[str, Job, Result], Awaitable[None]]


class SinkRunner:
    """One sink's queue and the task that delivers it, in order."""

    def __init__(
        self,
        spec: SinkSpec,
        transport: Transport,
        metrics: BridgeMetrics,
        on_done: Done,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.sink = spec.sink
        self.name = spec.sink.name
        self.queue: asyncio.Queue[Job] = asyncio.Queue(QUEUE_SIZE)
        self._transport = transport
        self._metrics = metrics
        self._on_done = on_done
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._limiter = (
            RateLimiter(spec.rate_per_s, max(1.0, spec.rate_per_s), time.monotonic, sleep)
            if spec.rate_per_s
            else None
        )
        self._busy = 0

    @property
    def pending(self) -> int:
        return self.queue.qsize() + self._busy

    async def put(self, job: Job) -> None:
        await self.queue.put(job)
        self._metrics.pending.labels(sink=self.name).set(self.pending)

    async def run(self) -> None:
        while True:
            job = await self.queue.get()
            self._busy = 1
            try:
                await self._handle(job)
            finally:
                self._busy = 0
                self.queue.task_done()
                self._metrics.pending.labels(sink=self.name).set(self.pending)

    async def resend_loop(self) -> None:
        while True:
            await self._sleep(RESEND_TICK_S)
            for request in self.sink.resends(self._clock()):
                await self.put(Job(-1, None, None, b"", b"", self._clock(), request))
            self._metrics.tracked.labels(sink=self.name).set(self.sink.tracked())

    async def _handle(self, job: Job) -> None:
        m = self._metrics
        name = self.name
        request, message = job.request, job.message
        if request is None:
            assert message is not None, "a job without a request carries its page"
            try:
                request = self.sink.request(message, job.body, self._clock())
            except Refused as exc:
                m.failed(name, "rejected")
                await self._on_done(name, job, Result("rejected", 0, None, str(exc)))
                return
        result = await deliver(
            request,
            self._transport,
            self.spec.policy,
            sleep=self._sleep,
            rng=self._rng,
            limiter=self._limiter,
            on_retry=m.retries.labels(sink=name).inc,
        )
        if result.outcome == "delivered":
            if job.offset is None:
                m.resends.labels(sink=name).inc()
                return
            m.deliveries.labels(sink=name).inc()
            m.delivery_seconds.labels(sink=name).observe(max(0.0, self._clock() - job.read_at))
            if message is not None:
                self.sink.delivered(message, self._clock())
        else:
            m.failed(name, result.outcome)
            log.warning(
                "sink %s: %s %s after %d attempt(s): %s",
                name, result.outcome, _describe(job), result.attempts, result.error,
            )  # fmt: skip
        if job.offset is not None:
            await self._on_done(name, job, result)


def _describe(job: Job) -> str:
    """A message as logs may show it: its dedup key and action, never its content."""
    if job.message is None:
        return "re-send"
    return f"{job.message.event_action} {job.message.dedup_key}"


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        config: BridgeConfig,
        metrics: BridgeMetrics,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        clients: KafkaClients | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.metrics = metrics
        self._clock = clock
        self._monotonic = monotonic  # the commit interval's: wall-clock steps must not stall it
        self._clients = clients or KafkaClients()
        self.tracker = OffsetTracker()
        self.runners = {
            name: SinkRunner(spec, transport, metrics, self._finished, clock=clock)
            for name, spec in config.sinks.items()
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._committed: dict[int, int] = {}
        self._last_commit = 0.0
        self.ready = False
        self.healthy = True

    async def start(self) -> None:
        options = self.settings.kafka.options()
        self._producer = self._clients.producer(
            **options, acks="all", enable_idempotence=True, linger_ms=5
        )
        await self._producer.start()
        self._consumer = self._clients.consumer(
            **options,
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await self._restore(options)
        self._consumer.subscribe([self.settings.pager_topic], listener=_Rebalance(self))
        await self._consumer.start()
        for runner in self.runners.values():
            self._tasks.append(asyncio.create_task(runner.run(), name=f"sink-{runner.name}"))
            self._tasks.append(asyncio.create_task(runner.resend_loop()))
        self.metrics.up.set(1)

    async def _restore(self, options: KafkaOptions) -> None:
        """Give sinks that keep state (Alertmanager's re-sends) what was delivered before.

        Reads the pager topic from its start up to the group's committed offsets, once, before
        consuming: without it, a restarted bridge would stop re-sending alerts that are still
        firing and Alertmanager would resolve them when their lease ran out.
        """
        sinks = {n: r.sink for n, r in self.runners.items() if r.sink.replays}
        if not sinks:
            return
        topic = self.settings.pager_topic
        admin = self._clients.admin(**options)
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        partitions = sorted(p["partition"] for p in described.get("partitions") or ())
        # A group member that never joins: it reads the group's commits, and commits nothing.
        reader = self._clients.consumer(
            **options,
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await reader.start()
        restored = 0
        try:
            targets = {}
            for tp in (TopicPartition(topic, p) for p in partitions):
                committed = await reader.committed(tp)
                if committed:
                    targets[tp] = committed
            if targets:
                reader.assign(list(targets))
                await reader.seek_to_beginning(*targets)
            while targets:
                batches = await reader.getmany(*targets, timeout_ms=1000, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < targets.get(tp, -1):
                            restored += self._restore_one(record.value or b"", sinks)
                for tp in list(targets):
                    if await reader.position(tp) >= targets[tp]:
                        del targets[tp]
        finally:
            await reader.stop()
        log.info("restored %d delivered page(s) for re-sending", restored)

    def _restore_one(self, raw: bytes, sinks: dict[str, Sink]) -> int:
        try:
            message = self.config.redaction.page(decode(raw))
        except MessageError:
            return 0
        names = [n for n in sinks_for(self.config.routes, message) if n in sinks]
        for name in names:
            sinks[name].restore(message)
        return 1 if names else 0

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._consumer is not None:
            await self._commit(force=True)
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        self.metrics.up.set(0)

    async def run(self) -> None:
        while True:
            await self.poll()

    async def poll(self) -> None:
        """One turn: a batch of pages queued to their sinks, and what is done committed."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        batches = await consumer.getmany(timeout_ms=500, max_records=500)
        for tp, records in batches.items():
            for record in records:
                await self._dispatch(tp.partition, record.offset, record.value or b"")
        await self._commit()
        if not batches:
            self.ready = True

    async def _dispatch(self, partition: int, offset: int, raw: bytes) -> None:
        self.metrics.consumed.inc()
        try:
            message = decode(raw)
        except MessageError as exc:
            self.metrics.invalid.inc()
            self.tracker.add(partition, offset, 0)
            await self._dead_letter(
                Job(partition, offset, None, b"", raw, self._clock()),
                "",
                f"not a pager message: {exc}",
            )
            return
        # Pages of a worker that hides the same fields pass unchanged; see Redaction.page.
        message = self.config.redaction.page(message)
        body = encode(message)
        names = sinks_for(self.config.routes, message)
        self.tracker.add(partition, offset, len(names))
        for name in names:
            await self.runners[name].put(Job(partition, offset, message, body, raw, self._clock()))

    async def _finished(self, sink: str, job: Job, result: Result) -> None:
        if result.outcome != "delivered":
            await self._dead_letter(job, sink, f"{result.outcome}: {result.error}"[:500])
        if job.offset is not None:
            self.tracker.done(job.partition, job.offset)

    async def _dead_letter(self, job: Job, sink: str, error: str) -> None:
        """Write to pager.dlq, retrying until Kafka takes it: the offset waits on this."""
        producer = self._producer
        assert producer is not None
        headers = [
            ("error", error.encode()),
            ("sink", sink.encode()),
            ("source_topic", self.settings.pager_topic.encode()),
            ("source_partition", str(job.partition).encode()),
            ("source_offset", str(job.offset).encode()),
        ]
        key = job.message.dedup_key.encode() if job.message is not None else None
        while True:
            try:
                await producer.send_and_wait(
                    self.settings.pager_dlq_topic, job.raw, key=key, headers=headers
                )
            except Exception as exc:  # any failure: keep the record, try again
                self.healthy = False
                log.error("pager dead-letter write failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(DLQ_RETRY_S)
                continue
            self.healthy = True
            self.metrics.dead_lettered.inc()
            return

    async def _commit(self, *, force: bool = False) -> None:
        now = self._monotonic()
        if not force and now - self._last_commit < COMMIT_INTERVAL_S:
            return
        self._last_commit = now
        consumer = self._consumer
        assert consumer is not None
        offsets = {}
        for partition in self.tracker.partitions():
            at = self.tracker.committable(partition)
            if at is not None and self._committed.get(partition) != at:
                offsets[TopicPartition(self.settings.pager_topic, partition)] = at
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # a rebalance in progress: commit next time
            log.warning("commit failed (%s); will retry", type(exc).__name__)
            return
        self._committed.update({tp.partition: at for tp, at in offsets.items()})

    async def revoked(self, partitions: list[int]) -> None:
        await self._commit(force=True)
        for partition in partitions:
            self.tracker.drop(partition)
            self._committed.pop(partition, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.bridge.revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
