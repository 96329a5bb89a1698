"""Small builders shared by the unit tests: rules from YAML text, events, engine runs."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import orjson
import yaml

from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules import Rule, parse_rule_text

_ids = itertools.count()


def rule(text: str | dict[str, Any], **overrides: Any) -> Rule:
    if isinstance(text, dict):
        data = dict(text)
        data.update(overrides)
        text = yaml.safe_dump(data)
    rules, problems = parse_rule_text(text, "test.yaml")
    assert not problems, [str(p) for p in problems]
    assert len(rules) == 1
    return rules[0]


def base_rule(detect: dict[str, Any], **top: Any) -> Rule:
    data: dict[str, Any] = {
        "id": "r1",
        "title": "test rule",
        "severity": "warning",
        "group_by": ["org_id"],
        "detect": detect,
    }
    data.update(top)
    return rule(data)


def ev(ts: int, org: str = "o1", **fields: Any) -> dict[str, Any]:
    event = {"event_id": f"e{next(_ids)}", "ts": ts, "org_id": org, "event_type": "request"}
    event.update(fields)
    return event


def run(
    rules: Rule | list[Rule],
    events: Iterable[dict[str, Any]],
    batch: int | None = None,
    lateness_ms: int = 30_000,
    flush: bool = True,
) -> list[Alert]:
    engine = CoreEngine(
        [rules] if isinstance(rules, Rule) else rules,
        EngineSettings(allowed_lateness_ms=lateness_ms),
    )
    values = [orjson.dumps(e) for e in events]
    out: list[Alert] = []
    for i in range(0, len(values), batch or max(1, len(values))):
        step = engine.process(values[i : i + (batch or len(values))])
        assert not step.dead_letters, step.dead_letters
        out += step.alerts
    if flush:
        out += engine.flush()
    return out


def actions(alerts: list[Alert]) -> list[tuple[str, Any, int]]:
    return [(a.action, a.group[0][1] if len(a.group) == 1 else a.group, a.at) for a in alerts]
