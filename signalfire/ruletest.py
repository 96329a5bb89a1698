"""`signalfire rules test`: the cases embedded in rule files, run through the real engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from signalfire.durations import DurationError, parse_duration_ms, parse_time_ms
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule, TestCase

DEFAULT_ORG = "o_test"
TEST_KEYS = ("repeat", "every")


class CaseError(ValueError):
    pass


@dataclass(slots=True)
class CaseResult:
    rule: Rule
    case: TestCase
    passed: bool
    problems: list[str] = field(default_factory=list)
    got: list[Alert] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.rule.path}:{self.case.line}"


def plain(value: Any) -> Any:
    """YAML line-tracking containers as the plain dicts and lists that JSON decoding gives."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _ms(value: object, what: str, time: bool = True) -> int:
    """A time (epoch ms or a duration from 0) or, with `time=False`, a duration."""
    try:
        return parse_time_ms(value) if time else parse_duration_ms(value)
    except DurationError as exc:
        raise CaseError(f"{what}: {exc}") from None


def expand_events(case: TestCase) -> list[tuple[int, dict[str, Any]]]:
    """Case events with `repeat`/`every` unrolled and ids and defaults filled, each with the
    index of the `events` entry it came from."""
    events: list[tuple[int, dict[str, Any]]] = []
    for n, spec in enumerate(case.events):
        repeat = spec.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise CaseError(f"events[{n}].repeat: expected a whole number >= 1")
        every = _ms(spec.get("every", 0), f"events[{n}].every", time=False)
        start = _ms(spec.get("ts", 0), f"events[{n}].ts")
        base = {k: plain(v) for k, v in spec.items() if k not in TEST_KEYS}
        for r in range(repeat):
            event = dict(base)
            event["ts"] = start + r * every
            event.setdefault("event_id", f"t{n}-{r}")
            event.setdefault("org_id", DEFAULT_ORG)
            events.append((n, event))
    return events


def encode_events(events: list[tuple[int, dict[str, Any]]]) -> list[bytes]:
    """The events as the record values the engine reads."""
    values = []
    for n, event in events:
        try:
            values.append(orjson.dumps(event))
        except TypeError as exc:  # a YAML value JSON has no form for, such as a date
            raise CaseError(f"events[{n}]: {exc}") from None
    return values


def _matches(expected: dict[str, Any], got: Alert) -> list[str]:
    problems = []
    if expected.get("action") != got.action:
        problems.append(f"action {got.action}, expected {expected.get('action')}")
    group = expected.get("group", {})
    actual = got.group_dict
    for name, value in (group or {}).items():
        if actual.get(name) != value:
            problems.append(f"group {name}={actual.get(name)!r}, expected {value!r}")
    if "at" in expected and _ms(expected["at"], "expect.at") != got.at:
        problems.append(f"at {got.at} ms, expected {_ms(expected['at'], 'expect.at')} ms")
    if "value" in expected and expected["value"] != got.evidence.value:
        problems.append(f"value {got.evidence.value!r}, expected {expected['value']!r}")
    return problems


def run_case(rule: Rule, case: TestCase, settings: EngineSettings | None = None) -> CaseResult:
    result = CaseResult(rule, case, passed=False)
    try:
        events = expand_events(case)
        values = encode_events(events)
    except CaseError as exc:
        result.problems.append(str(exc))
        return result
    engine = CoreEngine([rule], settings)
    out = engine.process(values)
    if out.dead_letters:
        # A case event that is not a usable event: the case says nothing until it is fixed.
        dead = out.dead_letters[0]
        result.problems.append(f"events[{events[dead.index][0]}]: {dead.message}")
        return result
    got = out.alerts
    if engine.late:
        result.problems.append(
            f"{engine.late} event(s) older than the watermark were dropped as late: "
            "list events in time order (allowed lateness is "
            f"{engine.settings.allowed_lateness_ms} ms)"
        )
    if case.until_ms is not None:
        got += engine.advance(case.until_ms)
    got += engine.flush()
    result.got = got
    if len(got) != len(case.expect):
        result.problems.append(
            f"{len(got)} alert(s), expected {len(case.expect)}: "
            + ", ".join(f"{a.action} {dict(a.group)} at {a.at}" for a in got)
        )
    for n, (expected, alert) in enumerate(zip(case.expect, got, strict=False)):
        result.problems.extend(f"alert {n + 1}: {p}" for p in _matches(expected, alert))
    result.passed = not result.problems
    return result


def run_rule_tests(
    rules: Sequence[Rule], settings: EngineSettings | None = None
) -> list[CaseResult]:
    return [run_case(rule, case, settings) for rule in rules for case in rule.tests]
