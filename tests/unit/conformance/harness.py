"""ElastAlert2's rule-type test cases, written as Signalfire rules and events.

A `Case` is one EA2 test (or one part of it) translated: a Signalfire rule body in YAML, the
events in the format of `signalfire rules test` (`ts`, `repeat`, `every`; `org_id` and
`event_type` are filled in), and the pages that docs/rules.md promises for them. `differs`
says why Signalfire's answer is not EA2's, and names the section of docs/rules.md ("How
Signalfire differs from ElastAlert2") that explains it; `None` means the two agree.

Time passes only through events, `{"advance": t}` steps (the stream clock moves with no
events: an idle stream, or EA2's `garbage_collect(t)` run) and `until` (the end of input is
advanced to that time). A backtest ends with a flush: the watermark catches up with the
clock, no further.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from signalfire.durations import parse_duration_ms
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules import Rule, parse_rule_text
from signalfire.rules.model import TestCase
from signalfire.ruletest import encode_events, expand_events

Time = int | str  # epoch ms or a duration from 0 (`90s`, `1h30m`, `59s1ms`)
LATENESS_VARIANTS_MS = (0, 30_000, 3_600_000)


class _Any:
    def __repr__(self) -> str:
        return "any"


ANY: Any = _Any()  # a page value that is not compared


class Page(NamedTuple):
    """An expected page. `at` is exact, or an inclusive (earliest, latest) range where the
    documented answer is a range (a window value may include events up to one bucket older
    than the window, so a condition that clears as a window drains does so within a bucket)."""

    action: str
    group: Mapping[str, Any]
    at: int | tuple[int, int]
    value: Any = ANY


def ms(t: Time) -> int:
    return t if isinstance(t, int) else parse_duration_ms(t)


def _at(at: Time | tuple[Time, Time]) -> int | tuple[int, int]:
    if isinstance(at, tuple):
        return (ms(at[0]), ms(at[1]))
    return ms(at)


def trigger(group: Mapping[str, Any], at: Time | tuple[Time, Time], value: Any = ANY) -> Page:
    return Page("trigger", group, _at(at), value)


def resolve(group: Mapping[str, Any], at: Time | tuple[Time, Time], value: Any = ANY) -> Page:
    return Page("resolve", group, _at(at), value)


def advance(t: Time) -> dict[str, Any]:
    """A step that moves the stream clock to `t` without events."""
    return {"advance": t}


@dataclass(frozen=True)
class Case:
    id: str  # the pytest id; docs/rules.md links to it
    ea2: str  # the EA2 test (and part) translated, and EA2's own answer
    rule: str  # the Signalfire rule body (YAML), without id/title/severity
    events: Sequence[Mapping[str, Any]]
    expect: Sequence[Page]
    differs: str | None = None  # why Signalfire answers otherwise, ending "(docs: <section>)"
    until: Time | None = None
    late: int = 0  # events the engine must drop as late
    lateness: Time = "30s"  # the worker's allowed lateness for this case

    def in_order(self) -> bool:
        """No event or advance step goes back in time: pages must not depend on lateness."""
        last = 0
        for step in self.events:
            t = ms(step["advance"]) if "advance" in step else ms(step.get("ts", 0))
            if t < last:
                return False
            if "advance" not in step:
                t += (step.get("repeat", 1) - 1) * ms(step.get("every", 0))
            last = t
        return self.late == 0


@dataclass(frozen=True)
class Outcome:
    pages: list[Alert]
    late: int


CASE_ID = re.compile(r"^[a-z0-9_]+$")


def build_rule(case: Case) -> Rule:
    assert CASE_ID.match(case.id), f"case id {case.id!r}: use [a-z0-9_]"
    title = json.dumps(case.ea2.split(":")[0])
    head = f"id: ea2.{case.id}\ntitle: {title}\nseverity: warning\n"
    text = head + textwrap.dedent(case.rule).strip() + "\n"
    rules, problems = parse_rule_text(text, f"{case.id}.yaml")
    assert not problems, [str(p) for p in problems]
    (rule,) = rules
    return rule


def _expand(n: int, spec: Mapping[str, Any]) -> list[bytes]:
    events = expand_events(TestCase(name="", line=0, events=(dict(spec),), expect=()))
    for r, (_, event) in enumerate(events):
        event["event_id"] = f"e{n}-{r}"
    return encode_events(events)


def _applied(engine: CoreEngine, batch: list[bytes]) -> list[Alert]:
    out = engine.process(batch)
    assert not out.dead_letters, out.dead_letters
    return out.alerts


def run(case: Case, lateness_ms: int | None = None) -> Outcome:
    """The case's steps through one engine, then the end of input."""
    lateness = ms(case.lateness) if lateness_ms is None else lateness_ms
    engine = CoreEngine([build_rule(case)], EngineSettings(allowed_lateness_ms=lateness))
    pages: list[Alert] = []
    batch: list[bytes] = []
    for n, step in enumerate(case.events):
        if "advance" in step:
            pages += _applied(engine, batch)
            batch = []
            pages += engine.advance(ms(step["advance"]))
        else:
            batch += _expand(n, step)
    pages += _applied(engine, batch)
    if case.until is not None:
        pages += engine.advance(ms(case.until))
    pages += engine.flush()
    return Outcome(pages, engine.late)


def _show(at: int | tuple[int, int]) -> str:
    if isinstance(at, tuple):
        return f"{at[0]}..{at[1]} ms"
    return f"{at} ms"


def describe(pages: Sequence[Alert | Page]) -> str:
    lines = []
    for p in pages:
        if isinstance(p, Alert):
            lines.append(f"  {p.action} {p.group_dict} at {_show(p.at)} value {p.evidence.value!r}")
        else:
            lines.append(f"  {p.action} {dict(p.group)} at {_show(p.at)} value {p.value!r}")
    return "\n".join(lines) or "  (no pages)"


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def same_json(expected: Any, got: Any) -> bool:
    """Equal as JSON values: `1` is `1.0`, but `true` is not `1` and `"1"` is not `1`."""
    if expected is ANY:
        return True
    if _number(expected) and _number(got):
        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    return type(expected) is type(got) and bool(expected == got)


def _same_group(expected: Mapping[str, Any], got: Mapping[str, Any]) -> bool:
    return expected.keys() == got.keys() and all(same_json(v, got[k]) for k, v in expected.items())


def matches(expected: Page, got: Alert) -> bool:
    if isinstance(expected.at, tuple):
        in_time = expected.at[0] <= got.at <= expected.at[1]
    else:
        in_time = got.at == expected.at
    return (
        got.action == expected.action
        and _same_group(expected.group, got.group_dict)
        and in_time
        and same_json(expected.value, got.evidence.value)
    )


def check(case: Case, outcome: Outcome) -> None:
    """The pages are the expected ones, in order and number; late drops are as expected."""
    ok = len(outcome.pages) == len(case.expect) and all(
        matches(e, g) for e, g in zip(case.expect, outcome.pages, strict=True)
    )
    verdict = "agrees" if case.differs is None else f"differs: {case.differs}"
    where = f"{case.id} ({case.ea2}; {verdict})"
    assert ok, f"{where}\nexpected:\n{describe(case.expect)}\ngot:\n{describe(outcome.pages)}"
    assert outcome.late == case.late, f"{where}: {outcome.late} late events, expected {case.late}"
