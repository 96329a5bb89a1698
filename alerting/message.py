"""Pager messages (CONTRACTS.md section 2): a PagerDuty Events v2 envelope with details."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from alerting.model import Alert
from signalfire.durations import format_duration_ms
from signalfire.rules.model import Rule
from signalfire.rules.template import render

SOURCE = "signalfire"
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
FINGERPRINT_HEX = 32
WITH_THRESHOLD = frozenset({"threshold", "distinct", "ratio"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_ISO_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
_LAST_ISO_MS = (datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC) - _EPOCH) // timedelta(
    milliseconds=1
)


def iso_ms(ms: int) -> str:
    """Event time as ISO-8601 UTC with milliseconds: 2026-11-23T08:00:00.000Z.

    Never raises: a time outside the years 1..9999 is written as the nearer end of them. Rule
    durations and event times are bounded so that no page needs that (signalfire.durations);
    this only keeps a bug elsewhere from becoming an exception on the alert path.
    """
    ms = min(max(ms, _FIRST_ISO_MS), _LAST_ISO_MS)
    dt = _EPOCH + timedelta(milliseconds=ms)  # arithmetic: no platform time_t limits
    # `%Y` leaves years below 1000 unpadded on glibc; ISO-8601 wants four digits.
    return f"{dt.year:04d}-{dt:%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def fingerprint(group: tuple[tuple[str, Any], ...]) -> str:
    """Stable hash of the group values: the same group gives the same key on any worker."""
    digest = hashlib.sha256(orjson.dumps([[k, _canonical(v)] for k, v in group]))
    return digest.hexdigest()[:FINGERPRINT_HEX]


def _canonical(value: Any) -> Any:
    # orjson stops at 64-bit integers; larger ones keep a distinct, stable spelling.
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return {"int": str(value)}
    return value


def dedup_key(rule_id: str, group: tuple[tuple[str, Any], ...]) -> str:
    return f"{rule_id}/{fingerprint(group)}"[:MAX_DEDUP_KEY]


def format_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return f"{int(value):,}"


def group_text(group: tuple[tuple[str, Any], ...]) -> str:
    return ",".join(f"{k}={v}" for k, v in group)


def summary(rule: Rule, alert: Alert) -> str:
    d = rule.detect
    window_ms = d.window_ms or d.within_ms or d.lookback_ms
    values = {
        "value": format_number(alert.evidence.value),
        "threshold": format_number(d.threshold),
        "window": format_duration_ms(window_ms) if window_ms else "",
        "op": d.op,
        "rule": rule.id,
        "title": rule.title,
        "severity": rule.severity,
        "field": ".".join(d.field or ()),
        "group": group_text(alert.group),
    }
    values.update((k, str(v)) for k, v in alert.group)
    template = rule.annotations.get("summary")
    if template is None:
        text = f"{rule.title}: {values['group']} (value {values['value']})"
    else:
        text = render(template, values)
    if alert.action == "resolve":
        text = f"RESOLVED: {text}"
    return text[:MAX_SUMMARY]


def pager_message(rule: Rule, alert: Alert) -> dict[str, Any]:
    ev = alert.evidence
    details: dict[str, Any] = {
        "rule": {"id": rule.id, "version": rule.version, "title": rule.title},
        "group": alert.group_dict,
        "value": ev.value,
    }
    if rule.detect.type in WITH_THRESHOLD:
        details["threshold"] = rule.detect.threshold
        details["op"] = rule.detect.op
    if ev.window_start is not None and ev.window_end is not None:
        details["window"] = {
            "size_s": (ev.window_end - ev.window_start) / 1000,
            "start": iso_ms(ev.window_start),
            "end": iso_ms(ev.window_end),
        }
    evidence: dict[str, Any] = {"sample_event_ids": list(ev.sample_event_ids)}
    if ev.top:
        evidence["top"] = {k: [list(pair) for pair in v] for k, v in ev.top.items()}
    evidence.update(ev.extra)
    details["evidence"] = evidence
    details["labels"] = dict(rule.labels)
    details["annotations"] = dict(rule.annotations)
    if rule.description and "description" not in details["annotations"]:
        details["annotations"]["description"] = rule.description
    if rule.owner:
        details["owner"] = rule.owner
    message: dict[str, Any] = {
        "event_action": alert.action,
        "dedup_key": dedup_key(rule.id, alert.group),
        "payload": {
            "summary": summary(rule, alert),
            "source": SOURCE,
            "severity": rule.severity,
            "timestamp": iso_ms(alert.at),
            "component": rule.id,
            "group": group_text(alert.group),
            "class": rule.detect.type,
            "custom_details": details,
        },
    }
    runbook = rule.annotations.get("runbook")
    if runbook:
        message["links"] = [{"href": runbook, "text": "Runbook"}]
    return message


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS)
