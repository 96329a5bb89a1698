"""Lateness decisions after a crash at any point are the ones a run without the crash makes.

The whole pipeline runs on an in-memory Kafka (tests/unit/streams/memory_kafka.py) with a wall
clock the test moves, so idleness, checkpoints and the point of a kill are exact. A worker is
killed at a chosen point, a new one takes over from what is durable, and the pages on the pager
and shadow topics -- and the stream clocks -- are compared with those of a run that was never
killed. A shadow copy of source_silent pages on the shadow topic as its live rule does on pager.

The stream: partition 0 carries an org that is busy up to T, partition 1 an org that went quiet
25 minutes before T. Partition 1 is idle once the worker has read its records, so the worker
moves its clock to T (a wall-clock decision). Then a burst arrives 20 minutes late in event
time: more than enough requests, 401s and accounts on one key and one IP to page three rules,
had it been on time. Without a crash every rule drops it as late.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics
from signalfire.rules import load_rules
from signalfire.rules.model import SHADOW
from streams.config import WorkerConfig
from streams.pipeline import Pipeline
from tests.late_burst import BUSY, MINUTE, QUIET, T, burst, history
from tests.reference.wire import read_any
from tests.unit.streams.memory_kafka import (
    Broker,
    Killed,
    MemoryClients,
    NoFreeze,
    Process,
    Wall,
)

POLL_S = 0.1
BURST_RULES = {"api_key_burst", "auth_failure_burst", "ip_account_fanout"}


def config(checkpoint_ms: int) -> WorkerConfig:
    return WorkerConfig(
        rules="rules", group_id="sf", idle_timeout_ms=2_000, lateness_ms=30_000,
        checkpoint_interval_ms=checkpoint_ms, batch_records=500,
    )  # fmt: skip


def produce(broker: Broker, partition: int, events: list[dict[str, Any]]) -> None:
    for e in events:
        broker.produce("usage-events", partition, str(e["org_id"]).encode(), orjson.dumps(e))


class Worker:
    def __init__(self, broker: Broker, wall: Wall, cfg: WorkerConfig) -> None:
        self.broker = broker
        self.wall = wall
        self.process = Process(broker)
        rules = list(load_rules([cfg.rules]).rules)
        [silent] = [r for r in rules if r.id == "source_silent"]
        rules.append(dataclasses.replace(silent, id="source_silent_trial", mode=SHADOW))
        metrics = Metrics.create(CollectorRegistry())
        self.pipeline = Pipeline(cfg, rules, metrics, wall, MemoryClients(self.process))
        self.pipeline.freezer = NoFreeze(1.0, wall())

    async def start(self) -> None:
        await self.pipeline.start()

    async def poll(self) -> None:
        await self.pipeline.poll()
        self.wall.t += POLL_S

    def caught_up(self) -> bool:
        consumer = self.pipeline.consumer
        assert consumer is not None
        return not self.broker.open and all(
            consumer.positions.get(tp, -1) >= self.broker.stable_end((tp.topic, tp.partition))
            for tp in consumer.assigned
        )

    async def drain(self, idle_s: float = 0.0) -> None:
        """Poll until every record is read and nothing new comes; then let `idle_s` of wall
        time pass, polling, and drain again (idle partitions move on in that time)."""
        for _ in range(1_000):
            await self.poll()
            if self.caught_up():
                break
        else:
            raise AssertionError("the worker did not catch up in 1,000 polls")
        if idle_s:
            polls = int(idle_s / POLL_S) + 1
            for _ in range(polls):
                await self.poll()
            await self.drain()

    def clocks(self) -> dict[str, int]:
        clock: dict[str, int] = self.pipeline.processor.stats()["clock"]
        return clock


Pages = Counter[tuple[str, str, str, str]]


def pages(broker: Broker) -> Pages:
    """(rule, action, time, topic) of every page committed to the pager and shadow topics."""
    found: Pages = Counter()
    for topic in ("pager", "pager.shadow"):
        for r in broker.committed_records(topic):
            m = orjson.loads(r.value or b"")
            p = m["payload"]
            found[(p["component"], m["event_action"], p["timestamp"], topic)] += 1
    return found


KillAt = Callable[[str, dict[str, Any]], bool]
KILL_POINTS = {
    # right after the transaction that tells the families the quiet partition moved on
    "move-committed": "committed",
    # between two polls, once the idle partition's move is committed; the burst comes after
    "moved-on": "between",
    # the batch that read the burst has sent its outputs, not yet its offset
    "burst-in-flight": "offsets",
    # between two polls, once the burst is read and committed
    "burst-committed": "between",
    # a checkpoint is written into its transaction, which is never committed
    "checkpoint-uncommitted": "written",
    # once the burst is committed, and the next worker again while it rebuilds
    "again-while-rebuilding": "between, then fetch",
}


def moved_on(at: str, details: dict[str, Any]) -> bool:
    """A committed transaction carries the quiet partition's watermark at T."""
    return at == "committed" and any(
        topic.startswith("sf.usage-events.by-")
        and (batch := read_any(value or b""))[0] == QUIET
        and batch[1] >= T - 30_000
        for topic, value in details["records"]
    )


def killer(point: str, late_on: int) -> KillAt | None:
    """The hook that kills the worker at `point` (once the burst is there, for those after)."""
    if point == "burst-in-flight":
        tid = f"sf.usage-events.{late_on}"
        return lambda at, details: at == "offsets" and details["tid"] == tid
    if point == "checkpoint-uncommitted":
        return lambda at, details: at == "written" and details["topic"].startswith("sf.state.")
    return None


async def run(
    checkpoint_ms: int, late_on: int, kill: str | None = None
) -> tuple[Pages, dict[str, int], int]:
    """History, an idle spell, then the late burst on partition `late_on`, read by a worker
    that fetches 50 records per partition at a time. Killed at `kill`, a second worker that
    fetches everything it can at once takes over and goes on. Returns the pages, the stream
    clocks at the end, and the number of kills."""
    cfg = config(checkpoint_ms)
    broker = Broker()
    broker.create_topic("usage-events", 2)
    for partition, events in history().items():
        produce(broker, partition, events)
    wall = Wall()
    broker.fetch_limit = 50
    worker = Worker(broker, wall, cfg)
    kills = 0

    async def survive(step: Callable[[Worker], Awaitable[None]]) -> None:
        nonlocal worker, kills
        try:
            await step(worker)
        except Killed:
            kills += 1
            wall.t += 1.0
            broker.fetch_limit = None
            worker = Worker(broker, wall, cfg)
            if kill == "again-while-rebuilding" and kills == 1:
                fetches = iter(range(3, 0, -1))
                worker.process.kill_at = lambda at, _: at == "fetch" and next(fetches, 0) == 1
            await worker.start()

    async def begin(w: Worker) -> None:
        w.process.kill_at = moved_on if kill == "move-committed" else None
        await w.start()
        await w.drain(idle_s=2.5)

    async def die(w: Worker) -> None:
        w.process.kill()
        await w.poll()

    async def burst_comes(w: Worker) -> None:
        late_org = "org-quiet" if late_on == QUIET else "org-busy"
        produce(broker, late_on, burst(late_org, T - 20 * MINUTE))
        w.process.kill_at = killer(kill, late_on) if kill else None
        await w.drain()

    await survive(begin)
    if kill == "moved-on":
        await survive(die)
    await survive(burst_comes)
    if kill in ("burst-committed", "again-while-rebuilding"):
        await survive(die)
    for _ in range(3):
        await survive(lambda w: w.drain(idle_s=2.5))
    return pages(broker), worker.clocks(), kills


NO_CHECKPOINT = 600_000
CHECKPOINTS = 1_500
_clean: dict[tuple[int, int], tuple[Pages, dict[str, int]]] = {}


async def clean_run(checkpoint_ms: int, late_on: int) -> tuple[Pages, dict[str, int]]:
    key = (checkpoint_ms, late_on)
    if key not in _clean:
        found, clocks, kills = await run(checkpoint_ms, late_on)
        assert kills == 0
        _clean[key] = (found, clocks)
    return _clean[key]


@pytest.mark.parametrize("late_on", [BUSY, QUIET], ids=["busy", "quiet"])
async def test_without_a_crash_every_rule_drops_the_burst_as_late(late_on: int) -> None:
    found, _ = await clean_run(NO_CHECKPOINT, late_on)
    assert not {rule for rule, *_ in found} & BURST_RULES, found
    # org-quiet's silence pages once its partition's clock has moved on: a wall-clock decision
    # the pages of every crashed run must still show, once.
    assert sorted((rule, topic) for rule, _, _, topic in found) == [
        ("source_silent", "pager"),
        ("source_silent_trial", "pager.shadow"),
    ]


CASES = [
    (checkpoint, kill)
    for checkpoint in (NO_CHECKPOINT, CHECKPOINTS)
    for kill in KILL_POINTS
    if checkpoint == CHECKPOINTS or kill != "checkpoint-uncommitted"
]


@pytest.mark.parametrize("late_on", [BUSY, QUIET], ids=["busy", "quiet"])
@pytest.mark.parametrize(
    ("checkpoint_ms", "kill"), CASES,
    ids=[f"{'checkpoints' if c == CHECKPOINTS else 'no-checkpoint'}-{k}" for c, k in CASES],
)  # fmt: skip
async def test_a_late_burst_is_late_after_a_kill_at_any_point(
    checkpoint_ms: int, kill: str, late_on: int
) -> None:
    expected, expected_clocks = await clean_run(checkpoint_ms, late_on)
    found, clocks, kills = await run(checkpoint_ms, late_on, kill)
    assert kills == (2 if kill == "again-while-rebuilding" else 1)
    assert found == expected
    assert clocks == expected_clocks


async def test_a_checkpoint_behind_many_aborted_ones_is_still_the_one_restored() -> None:
    """A worker that dies again and again while writing a checkpoint leaves an aborted snapshot
    and an abort marker each time after the last good one. Not finding that one, a restore
    would rebuild from the start, without the clock moves the snapshot holds."""
    expected, expected_clocks = await clean_run(CHECKPOINTS, QUIET)
    cfg = config(CHECKPOINTS)
    broker = Broker()
    broker.create_topic("usage-events", 2)
    for partition, events in history().items():
        produce(broker, partition, events)
    wall = Wall()
    worker = Worker(broker, wall, cfg)
    await worker.start()
    await worker.drain(idle_s=5.0)  # the quiet partition moves, and is checkpointed after
    quiet_state = broker.logs[("sf.state.usage-events", QUIET)]
    assert sum(1 for e in quiet_state if e.txn and e.txn.state == "committed") >= 4
    # The burst comes; every worker from now on reads it (again) and dies checkpointing.
    produce(broker, QUIET, burst("org-quiet", T - 20 * MINUTE))
    for _ in range(12):
        worker = Worker(broker, wall, cfg)
        worker.process.kill_at = lambda at, details: (
            at == "written"
            and details["topic"] == "sf.state.usage-events"
            and details["partition"] == QUIET
        )
        with pytest.raises(Killed):
            await worker.start()
            await worker.drain(idle_s=5.0)
    worker = Worker(broker, wall, cfg)
    await worker.start()  # fences the last one: its checkpoint is aborted too
    aborted = [e for e in quiet_state if e.txn and e.txn.state == "aborted" and not e.control]
    assert len(aborted) == 12
    await worker.drain(idle_s=2.5)
    assert pages(broker) == expected
    assert worker.clocks() == expected_clocks


async def test_a_family_partition_that_paged_with_offset_zero_committed_pages_once() -> None:
    """A family partition commits the oldest record whose events still wait in its merge: 0
    while the first record's later events wait, though its earlier ones have paged. Killed
    before a checkpoint of it, it is rebuilt from the start with its pages logged, never
    started afresh as a partition that did nothing (its page sent again)."""
    cfg = config(NO_CHECKPOINT)
    broker = Broker()
    broker.create_topic("usage-events", 2)
    # Partition 0, one batch: a burst of 401s from one IP, then one more an hour later.
    attack = [
        {"event_id": f"a{n}", "ts": n * 1_000, "org_id": "org-a", "ip": "6.6.6.6",
         "account_id": "acct-a", "status": 401, "event_type": "request"}
        for n in range(60)
    ]  # fmt: skip
    attack.append(
        {"event_id": "a-next", "ts": T, "org_id": "org-a", "ip": "6.6.6.6", "status": 401}
    )
    # Partition 1 comes only 20 minutes far: the merge holds the hour-later event back.
    other = [
        {"event_id": f"o{n}", "ts": n * MINUTE, "org_id": "org-b", "ip": "10.0.0.9"}
        for n in range(21)
    ]  # fmt: skip
    produce(broker, 0, attack)
    produce(broker, 1, other)
    wall = Wall()
    worker = Worker(broker, wall, cfg)

    async def read_through(w: Worker) -> None:
        """Drain twice: the families read what the inputs' transactions forwarded."""
        for _ in range(2):
            await w.drain()
            await w.pipeline.settle()

    await worker.start()
    await read_through(worker)
    [family] = [
        tp for tp, om in broker.groups["sf"].items()
        if tp[0] == "sf.usage-events.by-ip" and om.offset == 0
        and any(e.value and b"6.6.6.6" in e.value for e in broker.logs[tp])
    ]  # fmt: skip
    assert not broker.logs[("sf.state.sf.usage-events.by-ip", family[1])]
    before = pages(broker)
    assert before[("auth_failure_burst", "trigger", "1970-01-01T00:00:50.000Z", "pager")] == 1
    assert before[("auth_failure_burst", "resolve", "1970-01-01T00:15:10.000Z", "pager")] == 1
    worker.process.kill()
    with pytest.raises(Killed):
        await worker.poll()
    worker = Worker(broker, wall, cfg)
    await worker.start()
    await read_through(worker)
    assert pages(broker) == before
