"""The bridge's sinks: one queue per sink, delivered in order on the sink's own task.

A trigger never overtakes its resolve, and a sink that is down or slow holds only its own
queue. A delivered page, or one the sink refuses for good or runs out of retries on, is handed
back to the bridge (`on_done`), which dead-letters the failures and moves the commit point.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alerting.bridge_config import SinkSpec
from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import HttpRequest, RateLimiter, Result, Transport, http_attempt, retry
from alerting.pager import PagerMessage
from alerting.sinks.base import Refused

log = logging.getLogger("signalfire.bridge")

QUEUE_SIZE = 10_000  # per sink; a full queue pauses consumption (backpressure)
RESEND_TICK_S = 1.0


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
        if request is not None:
            attempt = http_attempt(request, self._transport)
        else:
            assert message is not None, "a job without a request carries its page"
            try:
                attempt = self.sink.attempt(message, job.body, self._clock(), self._transport)
            except Refused as exc:
                m.failed(name, "rejected")
                await self._on_done(name, job, Result("rejected", 0, None, str(exc)))
                return
        result = await retry(
            attempt,
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
