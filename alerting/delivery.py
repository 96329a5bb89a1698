"""Delivering one message to a sink: classification, capped backoff with jitter, rate limit.

Pure policy plus one coroutine, `retry`, that repeats an `Attempt` (one try at delivery,
answering delivered, retry or reject) with its clock and sleep passed in, so every retry path
is tested with a recording fake. Most sinks attempt an HTTP request (`deliver`, over a
`Transport`; the real HTTP client lives at the edge, `alerting.http`); the page store attempts
a database write (`alerting.sinks.store`). Both share the same retries, dead letters and commits.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Outcome = Literal["delivered", "rejected", "exhausted"]
Verdict = Literal["delivered", "retry", "reject"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    retry_after_s: float | None = None
    body: bytes = b""


class TransportError(Exception):
    """The request got no HTTP answer: refused, reset, DNS, or the timeout passed."""


class Transport(Protocol):
    async def post(self, request: HttpRequest, timeout_s: float) -> HttpResponse: ...


def classify(status: int) -> Verdict:
    """2xx delivered; 408, 429 and 5xx are worth another try; any other answer is final."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "reject"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float = 0.5
    max_s: float = 30.0
    attempts: int = 10  # total tries, the first included
    timeout_s: float = 10.0

    def delay(self, retry: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Wait before retry number `retry` (0-based): half fixed, half jitter, capped.

        The fixed half keeps a storm of failures from retrying at once; the jittered half
        spreads bridges that failed together. A server's Retry-After is honoured up to the cap.
        """
        ceiling = min(self.max_s, self.initial_s * (1 << min(retry, 30)))
        wait = ceiling / 2 + rng.uniform(0, ceiling / 2)
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.max_s))
        return wait


class RateLimiter:
    """Token bucket: `rate` requests per second on average, bursts of up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    async def acquire(self) -> None:
        self._refill()
        while self._tokens < 1:
            await self._sleep((1 - self._tokens) / self.rate)
            self._refill()
        self._tokens -= 1


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt came to."""

    verdict: Verdict
    error: str = ""  # short and free of payload or secrets
    status: int | None = None  # the HTTP status, when there was one
    retry_after_s: float | None = None


# One try at delivering: takes the per-try timeout, answers; never raises for a failed try.
Attempt = Callable[[float], Awaitable[Answer]]


def http_attempt(request: HttpRequest, transport: Transport) -> Attempt:
    async def attempt(timeout_s: float) -> Answer:
        try:
            response = await transport.post(request, timeout_s)
        except TransportError as exc:
            return Answer("retry", f"no answer: {exc}")
        verdict = classify(response.status)
        error = "" if verdict == "delivered" else f"HTTP {response.status}"
        return Answer(verdict, error, response.status, response.retry_after_s)

    return attempt


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    attempts: int
    status: int | None  # the last HTTP status, None when the last try got no answer
    error: str  # empty when delivered; short and free of payload or secrets


async def deliver(
    request: HttpRequest,
    transport: Transport,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    rng: random.Random,
    limiter: RateLimiter | None = None,
    on_retry: Callable[[], None] = lambda: None,
) -> Result:
    """Send an HTTP request until delivered, refused for good, or out of attempts."""
    attempt = http_attempt(request, transport)
    return await retry(attempt, policy, sleep=sleep, rng=rng, limiter=limiter, on_retry=on_retry)


async def retry(
    attempt: Attempt,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    rng: random.Random,
    limiter: RateLimiter | None = None,
    on_retry: Callable[[], None] = lambda: None,
) -> Result:
    """Attempt until delivered, refused for good, or out of attempts."""
    answer = Answer("retry")
    for n in range(policy.attempts):
        if n:
            on_retry()
        if limiter is not None:
            await limiter.acquire()
        answer = await attempt(policy.timeout_s)
        if answer.verdict == "delivered":
            return Result("delivered", n + 1, answer.status, "")
        if answer.verdict == "reject":
            return Result("rejected", n + 1, answer.status, answer.error)
        if n + 1 < policy.attempts:
            await sleep(policy.delay(n, rng, answer.retry_after_s))
    return Result("exhausted", policy.attempts, answer.status, answer.error)
