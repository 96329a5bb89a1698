"""Runs one script through the Python reference engine and the compiled core: the trace of
each is one line per step with its alerts, dead letters and late count, then the counts."""

from __future__ import annotations

from collections.abc import Sequence

from alerting.message import pager_message
from alerting.pager import encode
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rulecounts import RuleCounts
from signalfire.rules.model import Rule
from tests.reference.engine import Engine
from tests.reference.events import EventError, decode
from tests.unit.core.scripts import Advance, Reload, Restart, Step

# One line per step: the alerts (their repr tells 1 from 1.0 from True, evidence included),
# dead letters and the late count. A page is rendered from its rule and alert alone
# (alerting.message.pager_message), so identical alerts are identical pages; with `pages`,
# the pager topic's records are in the trace as well.
Trace = list[str]


def page(rule: Rule, alert: Alert) -> bytes:
    """The pager topic's record of an alert: any alert renders, or the comparison fails."""
    return encode(pager_message(rule, alert))


def shown(rules: Sequence[Rule], alerts: Sequence[Alert], pages: bool) -> str:
    """The alerts, and with `pages` the pages they become."""
    if not pages:
        return repr(list(alerts))
    by_id = {r.id: r for r in rules}
    return f"{list(alerts)!r} pages {[page(by_id[a.rule_id], a) for a in alerts]!r}"


def reference(
    rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int, pages: bool = False
) -> Trace:
    engine = Engine(rules, EngineSettings(allowed_lateness_ms=lateness_ms))

    def paged(alerts: Sequence[Alert]) -> str:
        return shown(engine.rules, alerts, pages)

    trace: Trace = []
    for step in script:
        if isinstance(step, Restart):
            continue
        if isinstance(step, Reload):
            engine.reload(step.rules(rules))
            trace.append(f"reload: {[r.id for r in engine.rules]}")
            continue
        if isinstance(step, Advance):
            trace.append(f"advance {step.now}: {paged(engine.advance(step.now))}")
            continue
        events, dead = [], []
        for n, raw in enumerate(step.records):
            try:
                events.append(decode(raw))
            except EventError as exc:
                dead.append((n, exc.reason.value))
        alerts = engine.process(events)
        trace.append(f"batch: {paged(alerts)} dead {dead} late {engine.late}")
    trace.append(f"flush: {paged(engine.flush())}")
    trace.append(f"counts: {running_counts(engine)}")
    return trace


def compiled(
    rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int, pages: bool = False
) -> Trace:
    settings = EngineSettings(allowed_lateness_ms=lateness_ms)
    engine = CoreEngine(rules, settings)

    def paged(alerts: Sequence[Alert]) -> str:
        return shown(engine.rules, alerts, pages)

    trace: Trace = []
    for step in script:
        if isinstance(step, Restart):
            engine = CoreEngine(engine.rules, settings, engine.save())
            continue
        if isinstance(step, Reload):
            engine.reload(step.rules(rules))
            trace.append(f"reload: {[r.id for r in engine.rules]}")
            continue
        if isinstance(step, Advance):
            trace.append(f"advance {step.now}: {paged(engine.advance(step.now))}")
            continue
        out = engine.process(list(step.records))
        dead = [(d.index, d.reason.value) for d in out.dead_letters]
        trace.append(f"batch: {paged(out.alerts)} dead {dead} late {engine.late}")
    trace.append(f"flush: {paged(engine.flush())}")
    trace.append(f"counts: {engine.counts()}")
    return trace


def assert_same(
    rules: Sequence[Rule], script: Sequence[Step], lateness_ms: int, pages: bool = False
) -> None:
    want = reference(rules, script, lateness_ms, pages)
    got = compiled(rules, script, lateness_ms, pages)
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
