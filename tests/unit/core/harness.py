"""Runs one script through the Python reference engine and the compiled core."""

from __future__ import annotations

from collections.abc import Sequence

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rulecounts import RuleCounts
from signalfire.rules.model import Rule
from tests.reference.engine import Engine
from tests.reference.events import EventError, decode
from tests.unit.core.scripts import Advance, Restart, Step

# One line per step: the alerts (their repr tells 1 from 1.0 from True) and dead letters.
Trace = list[str]


def reference(rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int) -> Trace:
    engine = Engine(rules, EngineSettings(allowed_lateness_ms=lateness_ms))
    trace: Trace = []
    for step in script:
        if isinstance(step, Restart):
            continue
        if isinstance(step, Advance):
            trace.append(f"advance {step.now}: {engine.advance(step.now)!r}")
            continue
        events, dead = [], []
        for n, raw in enumerate(step.records):
            try:
                events.append(decode(raw))
            except EventError as exc:
                dead.append((n, exc.reason.value))
        trace.append(f"batch: {engine.process(events)!r} dead {dead} late {engine.late}")
    trace.append(f"flush: {engine.flush()!r}")
    trace.append(f"counts: {running_counts(engine)}")
    return trace


def compiled(rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int) -> Trace:
    settings = EngineSettings(allowed_lateness_ms=lateness_ms)
    engine = CoreEngine(rules, settings)
    trace: Trace = []
    for step in script:
        if isinstance(step, Restart):
            engine = CoreEngine(rules, settings, engine.save())
            continue
        if isinstance(step, Advance):
            trace.append(f"advance {step.now}: {engine.advance(step.now)!r}")
            continue
        out = engine.process(list(step.records))
        dead = [(d.index, d.reason.value) for d in out.dead_letters]
        trace.append(f"batch: {out.alerts!r} dead {dead} late {engine.late}")
    trace.append(f"flush: {engine.flush()!r}")
    trace.append(f"counts: {engine.counts()}")
    return trace


def assert_same(rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int) -> None:
    want = reference(rules, script, lateness_ms)
    got = compiled(rules, script, lateness_ms)
    for n, (w, g) in enumerate(zip(want, got, strict=True)):
        assert g == w, f"step {n} differs:\n core: {g}\n  ref: {w}"


def running_counts(engine: Engine) -> list[RuleCounts]:
    """The reference engine's counts per rule (its detectors' stats, their lifecycles'
    suppressed pages, its late counts), as the compiled core gives them."""
    return [
        RuleCounts(
            matches=det.stats.matches,
            triggers=det.stats.triggers,
            resolves=det.stats.resolves,
            suppressed=det.lc.suppressed,
            cap_evictions=det.stats.cap_evictions,
            late=late,
            partials_dropped=det.stats.partials_dropped,
        )
        for det, late in zip(engine.detectors, engine.late_by_rule, strict=True)
    ]
