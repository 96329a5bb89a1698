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
# An incident is open while one of its pages fires; resolved for good once none does.
IncidentState = Literal["open", "resolved"]
INCIDENT_STATES: tuple[IncidentState, ...] = ("open", "resolved")


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
    # Parent entities its events named (field -> value), beside the group's; none redacted.
    parents: dict[str, str] = field(default_factory=dict)
    incidents: tuple[PageIncident, ...] = ()  # the incidents it is part of, oldest first


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
    incidents: int = 0  # incidents none of whose pages is left


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


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """One incident as the store has it from its pages' `custom_details.incident`."""

    id: str
    root_name: str  # the root entity's field (`page` for a page about no entity)
    root_value: str  # as pages show it: a redacted root is `[redacted]`
    root_ref: str  # names the root whatever its redaction
    state: IncidentState
    opened_at: int  # event time of its first page
    resolved_at: int | None  # event time of the resolve that resolved it
    pages: int  # pages (dedup keys) in it, as the bridge last counted them
    updated_at: int  # wall time of the latest message stored about it
    rules: tuple[str, ...] = ()  # the rules of its stored pages, sorted


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """An episode in an incident, with what its latest message did there."""

    page: Page
    status: str  # opened, joined, absorbed, updated, page_resolved, resolved or alone
    absorbed_by: str | None  # the dedup key of the firing parent page it was absorbed by
    absorbed_by_page: int | None  # that parent's episode in this incident, when stored
    joined_at: int  # event time of its first message in the incident


@dataclass(frozen=True, slots=True)
class IncidentEntity:
    """An entity some page of an incident names (`page_entities`)."""

    name: str
    value: str
    pages: int  # how many of the incident's episodes name it
    grouped: bool  # some page's group holds it (else only its events named it)


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    incident: StoredIncident
    pages: tuple[IncidentPage, ...]  # in the order they joined
    entities: tuple[IncidentEntity, ...]  # top-down, as the pages name them


@dataclass(frozen=True, slots=True)
class PageIncident:
    """An incident an episode is part of, for its page."""

    id: str
    root_name: str
    root_value: str
    state: IncidentState
    status: str  # what the episode's latest message did to it


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    state: IncidentState | None = None
    root_name: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentList:
    incidents: tuple[StoredIncident, ...]  # newest first (by opened_at)
    next: str | None  # cursor for the following page of results; None at the end
