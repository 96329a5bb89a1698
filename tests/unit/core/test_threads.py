"""The compiled core on two threads does what it does on one, and what the reference does: the
shipped catalogue over generated traffic with rejects mixed in, in batches large enough to be
decoded in chunks side by side and to run the rules in lanes (docs/performance.md)."""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from functools import cache
from pathlib import Path

import orjson

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules import load_rules
from signalfire.rules.model import Rule
from tests.reference.engine import Engine
from tests.reference.events import EventError, decode

BATCH = 1500  # above the core's PARALLEL_FROM (512)


@cache
def catalogue() -> tuple[Rule, ...]:
    return tuple(load_rules(["rules"]).rules)


@cache
def records() -> tuple[bytes, ...]:
    lines = [orjson.dumps(e) for e in iter_events(GeneratorConfig(seed=3, events=40_000))]
    # rejects at both ends of the chunks a batch is decoded in, and in between
    for at in (0, 1, 749, 750, 751, 2999, 3000, 10_001, 29_999):
        lines.insert(at, b'{"event_id": "x"}' if at % 2 else b"not json")
    return tuple(lines)


def compiled(threads: int) -> tuple[list[str], bytes]:
    engine = CoreEngine(catalogue(), EngineSettings(threads=threads))
    lines = list(records())
    trace = []
    for i in range(0, len(lines), BATCH):
        out = engine.process(lines[i : i + BATCH])
        dead = [(d.index, d.reason.value) for d in out.dead_letters]
        trace.append(f"{out.alerts!r} dead {dead} late {engine.late}")
    trace.append(f"flush {engine.flush()!r} counts {engine.counts()}")
    return trace, engine.save()


def test_two_threads_give_what_one_gives() -> None:
    one, saved_one = compiled(1)
    two, saved_two = compiled(2)
    assert two == one
    assert saved_two == saved_one
    assert any("dead [" in t and "dead []" not in t for t in one)


def test_two_threads_give_what_the_reference_gives() -> None:
    engine = Engine(catalogue(), EngineSettings())
    lines = list(records())
    want = []
    for i in range(0, len(lines), BATCH):
        events = []
        for raw in lines[i : i + BATCH]:
            with suppress(EventError):
                events.append(decode(raw))
        want.extend(engine.process(events))
    want.extend(engine.flush())
    got: list[object] = []
    core = CoreEngine(catalogue(), EngineSettings(threads=2))
    for i in range(0, len(lines), BATCH):
        got.extend(core.process(lines[i : i + BATCH]).alerts)
    got.extend(core.flush())
    assert want, "the generated traffic pages"
    assert got == want


def test_more_threads_than_the_machine_has_cores_give_what_one_gives() -> None:
    # The helpers are a pool of (cores - 1) threads: a batch's extra pieces of work wait for one.
    one, saved_one = compiled(1)
    many, saved_many = compiled(5)
    assert many == one
    assert saved_many == saved_one


def test_a_process_forked_after_the_helpers_started_still_runs_its_batches(tmp_path: Path) -> None:
    compiled(2)  # the parent's helper threads are started
    lines = list(records())[:BATCH]
    result = tmp_path / "alerts"
    pid = os.fork()
    if pid == 0:  # the child: its helper threads did not survive the fork
        code = 1
        try:
            result.write_bytes(outcome(CoreEngine(catalogue(), EngineSettings(threads=2)), lines))
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child's batch never finished")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert result.read_bytes() == outcome(CoreEngine(catalogue(), EngineSettings(threads=1)), lines)


def outcome(engine: CoreEngine, lines: list[bytes]) -> bytes:
    """What one batch did: its alerts, dead letters, per-rule counts, and the saved state."""
    out = engine.process(lines)
    dead = [(d.index, d.reason.value) for d in out.dead_letters]
    return f"{out.alerts!r} {dead} {engine.counts()}".encode() + engine.save()
