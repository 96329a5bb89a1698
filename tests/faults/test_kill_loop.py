"""`kill -9` of a worker at random points of a generated stream, again and again, with one and
with two workers: every page the backtest of the same events raises is on the pager topic
(read_committed) exactly once. `SIGNALFIRE_SOAK_KILLS` raises the count (bench/soak)."""

import os
import random
import time

import pytest

from alerting.pager import to_json
from signalfire.cli.backtest import run_backtest
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules import load_rules
from signalfire.sources import lines_of
from tests.faults.figures import Figures, compare_pages, record
from tests.integration.worker_harness import (
    Topics,
    WorkerProcess,
    copy_rules,
    produce,
    read_topic,
    wait_for_pages,
)

pytestmark = pytest.mark.integration

KILLS = int(os.environ.get("SIGNALFIRE_SOAK_KILLS", "10"))
EVENTS = int(os.environ.get("SIGNALFIRE_SOAK_EVENTS", "60000"))


def identities(messages):
    """For the failure message: pages with the event time they carry."""
    return {(m["dedup_key"], m["event_action"], m["payload"]["timestamp"]) for m in messages}


@pytest.fixture(scope="module")
def stream():
    events = list(iter_events(GeneratorConfig(seed=41, events=EVENTS)))
    # A live stream never ends: the backtest flushes its last windows at end of input, the
    # worker when time moves on. One later event moves it on (idle partitions follow it).
    last = max(e["ts"] for e in events)
    events.append({"event_id": "tick", "ts": last + 120_000, "org_id": "org_tick",
                   "event_type": "heartbeat"})  # fmt: skip
    backtest = run_backtest(load_rules(["rules"]).rules, lines_of(events))
    expected = [to_json(m) for m in backtest.messages]
    return events, expected


@pytest.mark.parametrize("workers", [1, 2])
def test_repeated_kill_9_loses_and_repeats_nothing(kafka, tmp_path, stream, workers):
    events, expected = stream
    rng = random.Random(1000 + workers)
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=4)
    rules = copy_rules(tmp_path / "rules")
    fleet = [WorkerProcess(kafka, topics, rules) for _ in range(workers)]
    crashes = 0
    chunks = [events[i * len(events) // KILLS : (i + 1) * len(events) // KILLS]
              for i in range(KILLS)]  # fmt: skip
    try:
        for w in fleet:
            w.start(tmp_path, checkpoint="1s")
        for w in fleet:
            w.wait_ready()
        for chunk in chunks:
            produce(kafka, topics.events, chunk)
            victim = rng.choice(fleet)
            # A random point: somewhere between just after the chunk arrived and well into it.
            consumed = victim.metric("signalfire_events_consumed_total")
            target = consumed + rng.randint(0, len(chunk) // (2 * workers))
            deadline = time.monotonic() + 5
            while (
                victim.metric("signalfire_events_consumed_total") < target
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            for w in fleet:
                if w.proc is not None and w.proc.poll() is not None:
                    crashes += 1  # exited on its own: not a fault we injected
                    w.start(tmp_path, checkpoint="1s")
            victim.kill()
            victim.start(tmp_path, checkpoint="1s")
            victim.wait_ready()
        pages = wait_for_pages(kafka, topics.pager, len(expected), timeout_s=180)
        want, got, lost, duplicated = compare_pages(expected, pages)
        dead = len(read_topic(kafka, topics.dlq, quiet_s=1))
        record(
            f"kill -9 x{KILLS}, {workers} worker(s)",
            Figures(KILLS, want, got, lost, duplicated, dead, crashes),
        )
        logs = "\n".join(w.log_text() for w in fleet)
        missing = identities(expected) - identities(pages)
        extra = identities(pages) - identities(expected)
        assert (lost, duplicated, crashes) == (0, 0, 0), f"missing {missing}\nextra {extra}\n{logs}"
    finally:
        for w in fleet:
            if w.proc is not None and w.proc.poll() is None:
                w.stop()
