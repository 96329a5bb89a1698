"""The compiled core on two threads does what it does on one, and what the reference does: the
shipped catalogue over generated traffic with rejects mixed in, in batches large enough to be
decoded in chunks side by side and to run the rules in lanes (docs/performance.md)."""

from __future__ import annotations

from contextlib import suppress
from functools import cache

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
