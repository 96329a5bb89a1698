"""Delivery policy: what is retried, how long it waits, when it gives up, the rate limit."""

import itertools
import random

import pytest

from alerting.delivery import (
    HttpRequest,
    HttpResponse,
    RateLimiter,
    RetryPolicy,
    TransportError,
    classify,
    deliver,
)


class Script:
    """A transport answering from a script: an int is a status, an exception is raised."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    async def post(self, request, timeout_s):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, tuple):
            return HttpResponse(answer[0], answer[1])
        return HttpResponse(answer)


class Sleeps:
    def __init__(self):
        self.waits = []

    async def __call__(self, seconds):
        self.waits.append(seconds)


REQ = HttpRequest("http://sink.invalid/x", b"{}")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, "delivered"), (202, "delivered"), (204, "delivered"), (400, "reject"),
     (401, "reject"), (403, "reject"), (404, "reject"), (413, "reject"), (408, "retry"),
     (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"), (301, "reject")],
)  # fmt: skip
def test_classify(status, verdict):
    assert classify(status) == verdict


def test_delay_doubles_with_jitter_and_is_capped():
    policy = RetryPolicy(initial_s=0.5, max_s=8.0)
    rng = random.Random(1)
    for retry in range(12):
        ceiling = min(8.0, 0.5 * 2**retry)
        for _ in range(50):
            d = policy.delay(retry, rng)
            assert ceiling / 2 <= d <= ceiling
    spread = {round(policy.delay(3, rng), 6) for _ in range(20)}
    assert len(spread) > 10  # jittered, not fixed


def test_retry_after_is_honoured_up_to_the_cap():
    policy = RetryPolicy(initial_s=0.5, max_s=30.0)
    rng = random.Random(2)
    assert policy.delay(0, rng, retry_after_s=7) == 7
    assert policy.delay(0, rng, retry_after_s=3600) == 30


async def test_retries_5xx_429_and_network_errors_until_delivered():
    transport = Script(500, 429, TransportError("refused"), 503, 202)
    sleeps = Sleeps()
    retries = []
    result = await deliver(
        REQ, transport, RetryPolicy(attempts=10), sleep=sleeps, rng=random.Random(0),
        on_retry=lambda: retries.append(1),
    )  # fmt: skip
    assert result.outcome == "delivered" and result.attempts == 5 and result.status == 202
    assert transport.calls == 5 and len(retries) == 4 and len(sleeps.waits) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_is_never_retried(status):
    transport = Script(status, 202)
    sleeps = Sleeps()
    result = await deliver(REQ, transport, RetryPolicy(), sleep=sleeps, rng=random.Random(0))
    assert result.outcome == "rejected" and result.attempts == 1 and transport.calls == 1
    assert result.error == f"HTTP {status}" and sleeps.waits == []


async def test_gives_up_after_the_configured_attempts():
    transport = Script(*([500] * 4))
    sleeps = Sleeps()
    policy = RetryPolicy(initial_s=1, max_s=4, attempts=4)
    result = await deliver(REQ, transport, policy, sleep=sleeps, rng=random.Random(0))
    assert result.outcome == "exhausted" and result.attempts == 4 and transport.calls == 4
    assert len(sleeps.waits) == 3 and all(w <= 4 for w in sleeps.waits)  # no sleep after last


async def test_a_429_with_retry_after_waits_that_long():
    transport = Script((429, 5.0), 202)
    sleeps = Sleeps()
    await deliver(REQ, transport, RetryPolicy(), sleep=sleeps, rng=random.Random(0))
    assert sleeps.waits == [5.0]


async def test_timeout_counts_as_a_retryable_failure():
    transport = Script(TransportError("timed out after 10s"), TransportError("x"))
    policy = RetryPolicy(attempts=2)
    result = await deliver(REQ, transport, policy, sleep=Sleeps(), rng=random.Random(0))
    assert result.outcome == "exhausted" and result.status is None
    assert result.error.startswith("no answer")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds


async def test_rate_limiter_spaces_requests_after_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=2, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(8):
        await limiter.acquire()
        times.append(clock.now)
    assert times[:2] == [0.0, 0.0]  # the burst
    gaps = [b - a for a, b in itertools.pairwise(times[2:])]
    assert all(g == pytest.approx(0.5) for g in gaps)
    assert times[-1] == pytest.approx(3.0)  # 8 requests at 2/s with a burst of 2


async def test_rate_limiter_refills_while_idle():
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
    clock.now += 10
    start = clock.now
    for _ in range(3):
        await limiter.acquire()
    assert clock.now == start  # refilled to the burst, not beyond


def test_rate_limiter_rejects_nonsense():
    clock = FakeClock()
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1, clock=clock, sleep=clock.sleep)
