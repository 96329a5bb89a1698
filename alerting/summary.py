"""A page's one-line summary, and how pages spell numbers and groups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alerting.pager import MAX_SUMMARY
from signalfire.durations import format_duration_ms
from signalfire.engine.alert import Action
from signalfire.rules.model import CONDITION_TYPES, Rule
from signalfire.rules.template import render


def format_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return f"{int(value):,}"


def group_text(group: Iterable[tuple[str, Any]]) -> str:
    return ",".join(f"{k}={v}" for k, v in group)


def summary(rule: Rule, action: Action, group: tuple[tuple[str, Any], ...], value: Any) -> str:
    """The page's one-line text (at most MAX_SUMMARY characters), from the group values and
    value as the page carries them (cut, redacted, or not).

    Those go in whole or not at all: the bridge's redaction finds a hidden value in the summary
    only as the same text it sees in custom_details.
    """
    d = rule.detect
    window_ms = d.window_ms or d.within_ms or d.lookback_ms
    values = {
        "value": format_number(value),
        "threshold": format_number(d.threshold),
        "window": format_duration_ms(window_ms) if window_ms else "",
        "op": d.op,
        "rule": rule.id,
        "title": rule.title,
        "severity": rule.severity,
        "field": ".".join(d.field or ()),
        "group": group_text(group),
    }
    values.update((k, str(v)) for k, v in group)
    whole = {"value", "group", *(k for k, _ in group)}
    if action == "resolve":
        # A rule's summary describes its trigger ("ratio {value} > {threshold}"), which a
        # resolve's value need not bear out: a resolve says what ended, in words that hold.
        template = f"RESOLVED: {{title}}: {{group}} ({_resolved_because(rule, value)})"
    elif value is None:
        template = rule.annotations.get("summary", "{title}: {group}")
    else:
        template = rule.annotations.get("summary", "{title}: {group} (value {value})")
    return render(template, values, MAX_SUMMARY, whole)


def _resolved_because(rule: Rule, value: Any) -> str:
    kind = rule.detect.type
    if kind not in CONDITION_TYPES:
        after = format_duration_ms(rule.resolve_after_ms or 0)
        return f"no new occurrence for {after}"
    if kind == "absence":
        return "events again"
    if value is None:
        return "no events left in the window"
    return "now {value}: the condition no longer holds"
