"""`signalfire bridge`: pager topic -> Alertmanager / PagerDuty / webhooks.

One consumer reads the pager topic (read_committed, so only pages of committed worker
transactions). Each message is decoded (one that is not a page goes to the `pager.dlq` topic
with the reason), redacted, routed, and queued to every sink it goes to; each sink delivers its
queue in order (a trigger never overtakes its resolve) on its own task, so a sink that is down
or slow holds only its own queue. A message a sink refuses for good, or that runs out of
retries, goes to `pager.dlq` too. A partition's offset is committed only up to the oldest
message some sink has not yet delivered or dead-lettered, so after a crash nothing is skipped;
what is re-delivered collapses downstream on its dedup key.

Here, the consume loop: decoding, routing, dead letters. Beside it: the sinks' queues
(streams/bridge_sinks.py), the commit point (streams/bridge_commits.py), incidents
(streams/bridge_incidents.py), and the replay at start for sinks that keep state and for the
incidents (streams/bridge_restore.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from alerting.bridge_config import BridgeConfig
from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import Result, Transport
from alerting.pager import MessageError, decode, encode
from alerting.routing import sinks_for
from streams.bridge_commits import Commits
from streams.bridge_incidents import BridgeIncidents
from streams.bridge_restore import restore_read
from streams.bridge_settings import BridgeSettings
from streams.bridge_sinks import Job, SinkRunner
from streams.clients import KafkaClients

log = logging.getLogger("signalfire.bridge")

DLQ_RETRY_S = 2.0


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
        shadow: bool = False,
    ) -> None:
        self.settings = settings
        # The shadow bridge reads the pages kept from on-call (shadow rules', snoozed ones) into
        # the page store only; its config holds the store sinks alone (BridgeConfig.for_shadow).
        self.shadow = shadow
        self.topic = settings.shadow_topic if shadow else settings.pager_topic
        self.group_id = f"{settings.group_id}.shadow" if shadow else settings.group_id
        self.config = config
        self.metrics = metrics
        self._clock = clock
        self._clients = clients or KafkaClients()
        self.commits = Commits(self.topic, monotonic)
        self.runners = {
            name: SinkRunner(spec, transport, metrics, self._finished, clock=clock)
            for name, spec in config.sinks.items()
        }
        # Incidents are on-call's: the shadow bridge's pages are not correlated.
        self.incidents = (
            BridgeIncidents(config.incidents, metrics)
            if config.incidents is not None and not shadow
            else None
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = False
        self.healthy = True

    async def start(self) -> None:
        for runner in self.runners.values():  # first: a sink that cannot start stops the bridge
            await runner.sink.open(self.metrics)
        options = self.settings.kafka.options()
        self._producer = self._clients.producer(
            **options, acks="all", enable_idempotence=True, linger_ms=5
        )
        await self._producer.start()
        self._consumer = self._clients.consumer(
            **options,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        sinks = {n: r.sink for n, r in self.runners.items() if r.sink.replays}
        if (sinks or self.incidents is not None) and not self.shadow:
            await restore_read(
                self._clients,
                options,
                topic=self.settings.pager_topic,
                group_id=self.settings.group_id,
                config=self.config,
                sinks=sinks,
                incidents=self.incidents,
            )
        self._consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self._consumer.start()
        for runner in self.runners.values():
            self._tasks.append(asyncio.create_task(runner.run(), name=f"sink-{runner.name}"))
            self._tasks.append(asyncio.create_task(runner.resend_loop()))
        self.metrics.up.set(1)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._consumer is not None:
            await self.commits.commit(self._consumer, force=True)
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        for runner in self.runners.values():
            await runner.sink.close()
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
        await self.commits.commit(consumer)
        if not batches:
            self.ready = True

    async def _dispatch(self, partition: int, offset: int, raw: bytes) -> None:
        self.metrics.consumed.inc()
        try:
            message = decode(raw)
        except MessageError as exc:
            self.metrics.invalid.inc()
            self.commits.tracker.add(partition, offset, 0)
            await self._dead_letter(
                Job(partition, offset, None, b"", raw, self._clock()),
                "",
                f"not a pager message: {exc}",
            )
            return
        if message.payload.custom_details.rule.shadow and not self.shadow:
            # The worker writes these to the shadow topic; one here is a misconfiguration
            # (a shadow topic named as the pager topic), and a rule on trial must not page.
            self.metrics.invalid.inc()
            self.commits.tracker.add(partition, offset, 0)
            job = Job(partition, offset, message, b"", raw, self._clock())
            await self._dead_letter(job, "", "a shadow rule's page: never delivered to on-call")
            return
        # Pages of a worker that hides the same fields pass unchanged; see Redaction.page.
        message = self.config.redaction.page(message)
        if self.incidents is not None:
            try:
                message = self.incidents.attach(partition, offset, message)
            except MessageError as exc:  # a timestamp that is no time: no incident can hold it
                self.metrics.invalid.inc()
                self.commits.tracker.add(partition, offset, 0)
                job = Job(partition, offset, message, b"", raw, self._clock())
                await self._dead_letter(job, "", f"not a pager message: {exc}")
                return
        body = encode(message)
        names = sinks_for(self.config.routes, message)
        self.commits.tracker.add(partition, offset, len(names))
        for name in names:
            await self.runners[name].put(Job(partition, offset, message, body, raw, self._clock()))

    async def _finished(self, sink: str, job: Job, result: Result) -> None:
        if result.outcome != "delivered":
            await self._dead_letter(job, sink, f"{result.outcome}: {result.error}"[:500])
        if job.offset is not None:
            self.commits.tracker.done(job.partition, job.offset)

    async def _dead_letter(self, job: Job, sink: str, error: str) -> None:
        """Write to pager.dlq, retrying until Kafka takes it: the offset waits on this."""
        producer = self._producer
        assert producer is not None
        headers = [
            ("error", error.encode()),
            ("sink", sink.encode()),
            ("source_topic", self.topic.encode()),
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

    async def revoked(self, partitions: list[int]) -> None:
        assert self._consumer is not None
        await self.commits.revoked(self._consumer, partitions)

    async def assigned(self, partitions: list[int]) -> None:
        """Incidents of partitions taken over: rebuilt from their committed records."""
        if self.incidents is None or self._consumer is None:
            return
        committed = {}
        for p in partitions:
            committed[p] = await self._consumer.committed(TopicPartition(self.topic, p)) or 0
        stale = self.incidents.stale(committed)
        if stale:
            await restore_read(
                self._clients,
                self.settings.kafka.options(),
                topic=self.topic,
                group_id=self.group_id,
                config=self.config,
                sinks={},
                incidents=self.incidents,
                partitions=stale,
            )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.bridge.revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.bridge.assigned([tp.partition for tp in assigned])
