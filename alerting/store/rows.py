"""A pager message as the store keeps it: the columns of its row, checked before any write.

Pure: a message that cannot be stored (a timestamp that is not ISO-8601 with a zone) is refused
here, before the transaction starts, so nothing of it is ever stored half.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from alerting.pager import PagerMessage, encode, to_json
from alerting.redact import REDACTED
from alerting.store.model import Held

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
# PostgreSQL's TEXT cannot hold NUL; both dialects store the same replacement, so the two agree.
_NUL, _REPLACEMENT = "\x00", "\ufffd"


class Unstorable(ValueError):
    """A message the store can never take; the reason names the field, never its value."""


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
    entities: tuple[tuple[str, str], ...]  # (group field, value), redacted ones left out
    held: Held | None = None  # kept from on-call, and why; None: paged

    @property
    def key(self) -> tuple[str, str, int]:
        """The idempotency key: one stored message per (dedup_key, event_action, event time)."""
        return (self.dedup_key, self.event_action, self.event_at)


def event_ms(timestamp: str) -> int:
    try:
        at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise Unstorable("payload.timestamp: not an ISO-8601 time") from None
    if at.tzinfo is None:
        raise Unstorable("payload.timestamp: no time zone")
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
        entities=tuple(
            (clean(name), entity_text(value))
            for name, value in d.group.items()
            if value != REDACTED
        ),
        held="shadow" if d.rule.shadow else "snoozed" if d.snooze is not None else None,
    )
