"""What the store returns: typed rows for the console and reports. Times are epoch ms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["triggered", "resolved"]
VerdictName = Literal["confirmed_abuse", "false_positive", "benign", "duplicate"]
RecordOutcome = Literal["stored", "duplicate"]
STATES: tuple[State, ...] = ("triggered", "resolved")
# Why an episode never reached on-call: its rule runs in shadow, or a snooze held its trigger.
Held = Literal["shadow", "snoozed"]
# What the page list can ask for: paged (reached on-call) or held for one of the reasons.
Delivery = Literal["paged", "shadow", "snoozed"]


class BadCursor(ValueError):
    """A paging cursor this store did not hand out."""


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: RecordOutcome  # duplicate: this message was stored before, nothing changed
    page_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class Page:
    """One episode of a dedup key: its first message to its resolve (or still open)."""

    id: int
    dedup_key: str
    rule_id: str
    rule_version: str
    rule_title: str
    detector: str
    severity: str
    summary: str  # of the episode's latest message
    group_text: str
    state: State
    started_at: int  # event time of the episode's first message
    resolved_at: int | None
    last_event_at: int
    triggers: int  # trigger messages in the episode (repeats after a restart included)
    stored_at: int  # wall time the episode was first stored
    updated_at: int
    acknowledged_at: int | None
    verdict: VerdictName | None  # the latest verdict
    held: Held | None = None  # kept from on-call, and why; None: it paged


@dataclass(frozen=True, slots=True)
class PageMessage:
    id: int
    event_action: Literal["trigger", "resolve"]
    event_at: int
    stored_at: int
    summary: str
    body: dict[str, Any]  # the pager message as stored (already redacted by the bridge)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    page_id: int
    who: str
    note: str
    at: int


@dataclass(frozen=True, slots=True)
class Verdict:
    id: int
    page_id: int
    verdict: VerdictName
    note: str
    who: str
    at: int


@dataclass(frozen=True, slots=True)
class PageDetail:
    page: Page
    details: dict[str, Any]  # custom_details of the latest trigger (the resolve's, if none)
    entities: dict[str, str]  # group field -> value; redacted values left out
    messages: tuple[PageMessage, ...]  # the episode's timeline, oldest first
    acknowledgement: Acknowledgement | None
    verdicts: tuple[Verdict, ...]  # oldest first; the last one stands


@dataclass(frozen=True, slots=True)
class TriageFact:
    """What triage did with one episode: the input of rule-quality reports (alerting.quality)."""

    page_id: int
    rule_id: str
    severity: str
    started_at: int  # event time of the episode's first message
    acknowledged_at: int | None  # wall time of the (first, standing) acknowledgement
    first_verdict_at: int | None  # wall time of the episode's first verdict
    verdict: VerdictName | None  # the standing (latest) verdict
    # Wall time the page reached the store (the bridge delivers it to the pagers beside it):
    # what on-call's response times are measured from; None, not known: from `started_at`.
    paged_at: int | None = None
    held: Held | None = None  # shadow rules' pages are kept out of the quality table


@dataclass(frozen=True, slots=True)
class PageFilter:
    rule: str | None = None
    severity: tuple[str, ...] = ()  # any of these
    state: State | None = None
    entity: str | None = None  # a group value (an org, account, key id, IP, ...)
    entity_name: str | None = None  # narrows `entity` to one group field
    since_ms: int | None = None  # episodes started at or after
    until_ms: int | None = None  # episodes started before
    delivery: tuple[Delivery, ...] = ()  # any of these; () is every episode


@dataclass(frozen=True, slots=True)
class PageList:
    pages: tuple[Page, ...]  # newest first
    next: str | None  # cursor for the following page of results; None at the end


@dataclass(frozen=True, slots=True)
class Snooze:
    id: int
    rule_id: str | None
    dedup_key: str | None
    entity_name: str | None
    entity_value: str | None
    until_at: int
    reason: str
    who: str
    created_at: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: int
    who: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Purged:
    pages: int
    snoozes: int


@dataclass(frozen=True, slots=True)
class EntityEpisode:
    """An episode with its entities and span, for the overlap of a shadow rule's pages with the
    pages investigators judged."""

    page_id: int
    rule_id: str
    started_at: int
    ended_at: int  # resolved_at, or the last message's event time while it is open
    entities: frozenset[tuple[str, str]]  # (group field, value)
    verdict: VerdictName | None  # the standing verdict
