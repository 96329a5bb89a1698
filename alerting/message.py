"""Rendering an alert into its pager message (`alerting.pager`), always within PagerDuty's
limits, from values already redacted."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import orjson

from alerting.pager import (
    MAX_DEDUP_KEY,
    Condition,
    Counted,
    Details,
    Entity,
    Link,
    PageEvidence,
    PagerMessage,
    Payload,
    RuleRef,
    Window,
    encode,
    json_bytes,
    to_json,
)
from alerting.redact import Redaction
from alerting.summary import group_text, summary
from signalfire.engine.alert import Alert
from signalfire.entities import canonical, entity_ref
from signalfire.rules.model import Rule
from signalfire.timestamps import iso_ms

FINGERPRINT_HEX = 32
WITH_THRESHOLD = frozenset({"threshold", "distinct", "ratio"})
# PagerDuty refuses events over 512 KiB (alerting.sinks.pagerduty.MAX_BODY). The bridge adds the
# routing key and its redaction may lengthen short values to `[redacted]`: 12 KiB is left for those.
MAX_MESSAGE_BYTES = 500 * 1024
MAX_TEXT_CHARS = 1024  # any one text: group value, evidence value, label, annotation, title
SHORT_TEXT_CHARS = 64  # the last resort: a rule with very many group fields or labels
TRUNCATED = "…[truncated {:,} chars]"
# Secret and prompt fields: what every page hides whatever else is configured.
ALWAYS = Redaction()


def fingerprint(group: tuple[tuple[str, Any], ...]) -> str:
    """Stable hash of the group values: the same group gives the same key on any worker."""
    digest = hashlib.sha256(orjson.dumps([[k, canonical(v)] for k, v in group]))
    return digest.hexdigest()[:FINGERPRINT_HEX]


def dedup_key(rule_id: str, group: tuple[tuple[str, Any], ...]) -> str:
    return f"{rule_id}/{fingerprint(group)}"[:MAX_DEDUP_KEY]


def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text`, or its start and a marker saying how much was cut: at most `limit` characters."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATED.format(len(text))))
    return text[:keep] + TRUNCATED.format(len(text) - keep)


class _Cap:
    """Cuts every text inside a value (not mapping keys) to `limit`; remembers if it cut any.

    What it returns is JSON-shaped (lists, not tuples), as a decoded page holds it.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.cut = False

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value

    def text(self, value: str) -> str:
        if len(value) <= self.limit:
            return value
        self.cut = True
        return cap_text(value, self.limit)

    def texts(self, values: dict[str, str]) -> dict[str, str]:
        return {k: self.text(v) for k, v in values.items()}


def pager_message(rule: Rule, alert: Alert, redaction: Redaction = ALWAYS) -> PagerMessage:
    """The page for `alert`, its hidden fields redacted: at most MAX_MESSAGE_BYTES encoded,
    whatever the events held.

    The alert is redacted before anything is rendered, so no text, size or cut of the page
    depends on a hidden value; the dedup key alone is of the whole values (a hash).

    Every text is cut to MAX_TEXT_CHARS; if the page is still too large, the bulkiest optional
    parts (evidence, annotations but the runbook) are left out, largest first; if even that is
    not enough (a rule with very many group fields or labels), texts are cut to SHORT_TEXT_CHARS
    and every optional part left out. `custom_details.truncated` marks any such page, `omitted`
    lists what was left out.
    """
    key = dedup_key(rule.id, alert.group)
    shown = redaction.alert(alert)
    refs = _entity_refs(rule, alert)
    message = _message(rule, shown, key, MAX_TEXT_CHARS, refs)
    if _size(message) <= MAX_MESSAGE_BYTES:
        return message
    for section, part, _ in sorted(_optional(message), key=lambda p: -p[2]):
        message = _leave_out(message, section, part)
        if _size(message) <= MAX_MESSAGE_BYTES:
            return message
    message = _message(rule, shown, key, SHORT_TEXT_CHARS, refs)
    for section, part, _ in _optional(message):
        message = _leave_out(message, section, part)
    return message


def _optional(message: PagerMessage) -> list[tuple[str, str, int]]:
    """(section, key, encoded size) of the parts a page can do without, in page order."""
    # The evidence's `field` stays: the bridge's redaction reads it to hide a new value.
    details = to_json(message)["payload"]["custom_details"]
    return [
        (section, key, _json_size(details[section][key]))
        for section in ("evidence", "annotations")
        for key in details[section]
        if (section, key) not in (("evidence", "field"), ("annotations", "runbook"))
    ]


def _leave_out(message: PagerMessage, section: str, key: str) -> PagerMessage:
    d = message.payload.custom_details
    if section == "evidence":
        ev = d.evidence
        if key == "sample_event_ids":
            ev = dataclasses.replace(ev, sample_event_ids=())  # the contract promises the list
        elif key == "top":
            ev = dataclasses.replace(ev, top={})
        elif key == "counted":
            ev = dataclasses.replace(ev, counted=None)
        else:
            ev = dataclasses.replace(ev, extra={k: v for k, v in ev.extra.items() if k != key})
        d = dataclasses.replace(d, evidence=ev)
    else:
        d = dataclasses.replace(d, annotations={k: v for k, v in d.annotations.items() if k != key})
    d = dataclasses.replace(d, truncated=True, omitted=(*d.omitted, f"{section}.{key}"))
    return dataclasses.replace(
        message, payload=dataclasses.replace(message.payload, custom_details=d)
    )


def _size(message: PagerMessage) -> int:
    # The bytes the pager topic and the bridge carry (the PagerDuty sink measures the same).
    return len(encode(message))


def _json_size(value: Any) -> int:
    return len(json_bytes(value))


def _entity_refs(rule: Rule, alert: Alert) -> dict[str, str]:
    """The refs of the page's entities, of the whole values (before redaction and cuts)."""
    values = {**dict(alert.parents), **dict(alert.group)}
    return {
        name: entity_ref(name, values[name])
        for name in rule.entities.order
        if values.get(name) is not None
    }


def _entities(alert: Alert, refs: dict[str, str], cap: _Cap) -> tuple[Entity, ...]:
    """Top-down, as the rule's entity order has them: group values, then what the events named."""
    group, parents = dict(alert.group), dict(alert.parents)
    return tuple(
        Entity(name, cap(group[name]), ref, "group")
        if name in group
        else Entity(name, cap(parents[name]), ref, "events")
        for name, ref in refs.items()
    )


def _message(rule: Rule, alert: Alert, key: str, limit: int, refs: dict[str, str]) -> PagerMessage:
    cap = _Cap(limit)
    ev = alert.evidence
    group = tuple((k, cap(v)) for k, v in alert.group)
    value = cap(ev.value)
    window = None
    if ev.window_start is not None and ev.window_end is not None:
        window = Window(
            (ev.window_end - ev.window_start) / 1000, iso_ms(ev.window_start), iso_ms(ev.window_end)
        )
    evidence = PageEvidence(
        sample_event_ids=tuple(cap.text(i) for i in ev.sample_event_ids),
        top={k: tuple((v, n) for v, n in pairs) for k, pairs in cap(ev.top).items()},
        # what the samples and top values cover: the group's events from this time on
        counted=(
            Counted(iso_ms(ev.counted_since), ev.counted_events)
            if ev.counted_since is not None
            else None
        ),
        extra=cap(ev.extra),
    )
    title, labels = cap.text(rule.title), cap.texts(rule.labels)
    annotations = cap.texts(rule.annotations)
    if rule.description and "description" not in annotations:
        annotations["description"] = cap.text(rule.description)
    owner = cap.text(rule.owner) if rule.owner else None
    condition = None
    if rule.detect.type in WITH_THRESHOLD:
        condition = Condition(rule.detect.threshold, rule.detect.op)
    details = Details(
        rule=RuleRef(rule.id, rule.version, title, rule.mode),
        group=dict(group),
        value=value,
        condition=condition,
        window=window,
        evidence=evidence,
        labels=labels,
        annotations=annotations,
        owner=owner,
        entities=_entities(alert, refs, cap),
    )
    details = dataclasses.replace(details, truncated=cap.cut)  # every text is capped by now
    payload = Payload(
        summary=summary(rule, alert.action, group, value),
        severity=rule.severity,
        timestamp=iso_ms(alert.at),
        component=rule.id,
        group=group_text(group),
        class_=rule.detect.type,
        custom_details=details,
    )
    runbook = rule.annotations.get("runbook")
    # Never cut: a cut link leads nowhere. Rules check holds runbooks to MAX_TEXT_CHARS.
    links = (Link(runbook, "Runbook"),) if runbook and len(runbook) <= MAX_TEXT_CHARS else ()
    return PagerMessage(alert.action, key, payload, links)
