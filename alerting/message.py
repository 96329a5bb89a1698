"""Pager messages (CONTRACTS.md section 2): a PagerDuty Events v2 envelope with details,
always within PagerDuty's limits."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from signalfire.durations import format_duration_ms
from signalfire.engine.alert import Alert
from signalfire.rules.model import CONDITION_TYPES, Rule
from signalfire.rules.template import render
from signalfire.timestamps import iso_ms

SOURCE = "signalfire"
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
FINGERPRINT_HEX = 32
WITH_THRESHOLD = frozenset({"threshold", "distinct", "ratio"})
# PagerDuty refuses events over 512 KiB (alerting.sinks.pagerduty.MAX_BODY). The bridge adds the
# routing key and its redaction may lengthen short values to `[redacted]`: 12 KiB is left for those.
MAX_MESSAGE_BYTES = 500 * 1024
MAX_TEXT_CHARS = 1024  # any one text: group value, evidence value, label, annotation, title
SHORT_TEXT_CHARS = 64  # the last resort: a rule with very many group fields or labels
TRUNCATED = "…[truncated {:,} chars]"


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


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text`, or its start and a marker saying how much was cut: at most `limit` characters."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATED.format(len(text))))
    return text[:keep] + TRUNCATED.format(len(text) - keep)


class _Cap:
    """Cuts every text inside a value (not mapping keys) to `limit`; remembers if it cut any."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.cut = False

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) <= self.limit:
                return value
            self.cut = True
            return cap_text(value, self.limit)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def summary(rule: Rule, alert: Alert, group: tuple[tuple[str, Any], ...], value: Any) -> str:
    """The page's one-line text (at most MAX_SUMMARY characters), from the group values and
    value as the page carries them (cut or not).

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
    if alert.action == "resolve":
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


def pager_message(rule: Rule, alert: Alert) -> dict[str, Any]:
    """The page for `alert`: at most MAX_MESSAGE_BYTES encoded, whatever the events held.

    Every text is cut to MAX_TEXT_CHARS; if the page is still too large, the bulkiest optional
    parts (evidence, annotations but the runbook) are left out, largest first; if even that is
    not enough (a rule with very many group fields or labels), texts are cut to SHORT_TEXT_CHARS
    and every optional part left out. `custom_details.truncated` marks any such page, `omitted`
    lists what was left out. The dedup key is always that of the whole group values.
    """
    message = _message(rule, alert, MAX_TEXT_CHARS)
    if _size(message) <= MAX_MESSAGE_BYTES:
        return message
    details = message["payload"]["custom_details"]
    for section, key in sorted(_optional(details), key=lambda p: -_size(details[p[0]][p[1]])):
        _leave_out(details, section, key)
        if _size(message) <= MAX_MESSAGE_BYTES:
            return message
    message = _message(rule, alert, SHORT_TEXT_CHARS)
    details = message["payload"]["custom_details"]
    for section, key in _optional(details):
        _leave_out(details, section, key)
    return message


def _optional(details: dict[str, Any]) -> list[tuple[str, str]]:
    # The evidence's `field` stays: redaction reads it to hide a new value of a hidden field.
    return [
        (section, key)
        for section in ("evidence", "annotations")
        for key in details[section]
        if (section, key) not in (("evidence", "field"), ("annotations", "runbook"))
    ]


def _leave_out(details: dict[str, Any], section: str, key: str) -> None:
    if (section, key) == ("evidence", "sample_event_ids"):
        details[section][key] = []  # the contract promises the list, if empty
    else:
        del details[section][key]
    details["truncated"] = True
    details.setdefault("omitted", []).append(f"{section}.{key}")


def _size(value: Any) -> int:
    # The bytes the pager topic and the bridge carry (the PagerDuty sink measures the same).
    return len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def _message(rule: Rule, alert: Alert, limit: int) -> dict[str, Any]:
    cap = _Cap(limit)
    ev = alert.evidence
    group = tuple((k, cap(v)) for k, v in alert.group)
    value = cap(ev.value)
    details: dict[str, Any] = {
        "rule": {"id": rule.id, "version": rule.version, "title": cap(rule.title)},
        "group": dict(group),
        "value": value,
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
    evidence: dict[str, Any] = {"sample_event_ids": cap(ev.sample_event_ids)}
    if ev.top:
        evidence["top"] = cap(ev.top)
    if ev.counted_since is not None:
        # what the samples and top values cover: the group's events from this time on
        evidence["counted"] = {"since": iso_ms(ev.counted_since), "events": ev.counted_events}
    evidence.update(cap(ev.extra))
    details["evidence"] = evidence
    details["labels"] = cap(rule.labels)
    details["annotations"] = cap(rule.annotations)
    if rule.description and "description" not in details["annotations"]:
        details["annotations"]["description"] = cap(rule.description)
    if rule.owner:
        details["owner"] = cap(rule.owner)
    if cap.cut:
        details["truncated"] = True
    message: dict[str, Any] = {
        "event_action": alert.action,
        "dedup_key": dedup_key(rule.id, alert.group),  # of the whole values, never the cut ones
        "payload": {
            "summary": summary(rule, alert, group, value),
            "source": SOURCE,
            "severity": rule.severity,
            "timestamp": iso_ms(alert.at),
            "component": rule.id,
            "group": group_text(group),
            "class": rule.detect.type,
            "custom_details": details,
        },
    }
    runbook = rule.annotations.get("runbook")
    # Never cut: a cut link leads nowhere. Rules check holds runbooks to MAX_TEXT_CHARS.
    if runbook and len(runbook) <= MAX_TEXT_CHARS:
        message["links"] = [{"href": runbook, "text": "Runbook"}]
    return message


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS)
