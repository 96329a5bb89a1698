"""A pager message as the store keeps it: the columns of its row, checked before any write.

Pure: a message that cannot be stored (a timestamp that is not ISO-8601 with a zone) is refused
here, before the transaction starts, so nothing of it is ever stored half.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from alerting.pager import Details, IncidentRef, PagerMessage, encode, to_json
from alerting.redact import REDACTED
from alerting.store.model import Held, IncidentState

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
# PostgreSQL's TEXT cannot hold NUL; both dialects store the same replacement, so the two agree.
_NUL, _REPLACEMENT = "\x00", "\ufffd"
MAX_COUNT = 2**31 - 1  # an INTEGER column in PostgreSQL


class Unstorable(ValueError):
    """A message the store can never take; the reason names the field, never its value."""


@dataclass(frozen=True, slots=True)
class EntityRow:
    """A row of `page_entities`."""

    name: str
    value: str  # as `entity_text` spells it
    source: str  # `group`: a group value; `events`: a parent entity the group's events named
    ordinal: int | None  # its place in custom_details.entities; None: a group value no entity


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """`custom_details.incident`: the incident the page is part of, and what it did there."""

    id: str
    status: str  # opened, joined, absorbed, updated, page_resolved, resolved or alone
    root_name: str
    root_value: str  # as `entity_text` spells it; a redacted root stays `[redacted]`
    root_ref: str
    opened_at: int  # epoch ms
    pages: int
    firing: int  # 0: this message resolved the incident
    absorbed_by: str | None

    @property
    def state(self) -> IncidentState:
        return "open" if self.firing > 0 else "resolved"


@dataclass(frozen=True, slots=True)
class MessageRow:
    dedup_key: str
    event_action: str
    event_at: int  # epoch ms of payload.timestamp
    rule_id: str
    rule_version: str
    rule_title: str
    detector: str
    severity: str
    summary: str
    group_text: str
    details: str  # payload.custom_details as JSON
    body: str  # the whole message as JSON
    entities: tuple[EntityRow, ...]  # group values, then parents from events; no `[redacted]`
    held: Held | None = None  # kept from on-call, and why; None: paged
    incident: IncidentRow | None = None  # custom_details.incident, when the bridge set one

    @property
    def key(self) -> tuple[str, str, int]:
        """The idempotency key: one stored message per (dedup_key, event_action, event time)."""
        return (self.dedup_key, self.event_action, self.event_at)


def event_ms(timestamp: str, field: str = "payload.timestamp") -> int:
    try:
        at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise Unstorable(f"{field}: not an ISO-8601 time") from None
    if at.tzinfo is None:
        raise Unstorable(f"{field}: no time zone")
    return (at - _EPOCH) // timedelta(milliseconds=1)


def clean(text: str) -> str:
    return text.replace(_NUL, _REPLACEMENT) if _NUL in text else text


def entity_text(value: object) -> str:
    """A group value as the entity index holds it: strings as they are, anything else as JSON."""
    return clean(value if isinstance(value, str) else orjson.dumps(value).decode())


def message_row(message: PagerMessage) -> MessageRow:
    p = message.payload
    d = p.custom_details
    details = to_json(message)["payload"]["custom_details"]
    return MessageRow(
        dedup_key=clean(message.dedup_key),
        event_action=message.event_action,
        event_at=event_ms(p.timestamp),
        rule_id=clean(d.rule.id),
        rule_version=clean(d.rule.version),
        rule_title=clean(d.rule.title),
        detector=clean(p.class_),
        severity=clean(p.severity),
        summary=clean(p.summary),
        group_text=clean(p.group),
        details=orjson.dumps(details, option=orjson.OPT_NON_STR_KEYS).decode(),
        body=encode(message).decode(),
        entities=entity_rows(d),
        held="shadow" if d.rule.shadow else "snoozed" if d.snooze is not None else None,
        incident=None if d.incident is None else incident_row(d.incident),
    )


def entity_rows(d: Details) -> tuple[EntityRow, ...]:
    """The group's values, then the parent entities its events named (`source: events`);
    values shown as `[redacted]` are no entities: they are left out."""
    ordinal = {e.name: n for n, e in enumerate(d.entities)}
    group = [
        EntityRow(clean(name), entity_text(value), "group", ordinal.get(name))
        for name, value in d.group.items()
        if value != REDACTED
    ]
    parents = [
        EntityRow(clean(e.name), entity_text(e.value), "events", n)
        for n, e in enumerate(d.entities)
        if e.source == "events" and e.value != REDACTED and e.name not in d.group
    ]
    return (*group, *parents)


def incident_row(i: IncidentRef) -> IncidentRow:
    for field, count in (("pages", i.pages), ("firing", i.firing)):
        if not 0 <= count <= MAX_COUNT:
            raise Unstorable(f"custom_details.incident.{field}: out of range")
    return IncidentRow(
        id=clean(i.id),
        status=i.status,
        root_name=clean(i.root.name),
        root_value=entity_text(i.root.value),
        root_ref=clean(i.root.ref),
        opened_at=event_ms(i.opened_at, "custom_details.incident.opened_at"),
        pages=i.pages,
        firing=i.firing,
        absorbed_by=None if i.absorbed_by is None else clean(i.absorbed_by),
    )
