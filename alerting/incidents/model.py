"""What the correlator says and shows: decisions, incidents and their pages, as frozen values.

Times are epoch milliseconds of event time (`signalfire.timestamps.iso_ms` spells them).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from alerting.pager import INCIDENT_STATUSES, Entity, IncidentStatus, MessageError, PagerMessage
from signalfire.timestamps import parse_iso_ms

What = IncidentStatus  # what a page did to its incident, as `custom_details.incident` says it
WHATS = INCIDENT_STATUSES

ALONE = "page"  # the root name of a page that has no entity of its own


@dataclass(frozen=True, slots=True)
class Root:
    """The entity an incident is about: `ref` is the incident key, `value` as pages show it."""

    name: str
    value: Any
    ref: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What one pager message did to the incidents."""

    incident: str  # the incident's id
    what: What
    root: Root
    opened_at: int  # when the incident opened (for `alone`: the resolve's time)
    pages: int  # distinct pages (dedup keys) in the incident, after this message
    firing: int  # of them, how many fire after this message
    absorbed_by: str | None = None  # `absorbed`: the dedup key of the firing parent page
    dropped: str | None = None  # `opened`: an incident the cap dropped to make room


@dataclass(frozen=True, slots=True)
class Member:
    """A page of an incident: one rule's group."""

    dedup_key: str
    rule: str  # the rule id (`payload.component`)
    entities: tuple[Entity, ...]
    first_trigger_at: int
    resolved_at: int | None  # None while it fires
    absorbed_by: str | None = None  # the parent page it was absorbed by, on its latest entry

    @property
    def absorbed(self) -> bool:
        return self.absorbed_by is not None

    @property
    def firing(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class Incident:
    """One attack: the pages about one root, in the order they entered."""

    id: str
    root: Root
    opened_at: int
    resolved_at: int | None
    pages: tuple[Member, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(sorted({m.rule for m in self.pages}))

    @property
    def entities(self) -> tuple[Entity, ...]:
        return merge_entities(m.entities for m in self.pages)


def incident_id(key: str, dedup_key: str, at_ms: int) -> str:
    """`inc_` + 16 hex of sha256 over the JSON of [incident key, opener's dedup key, time]."""
    digest = hashlib.sha256(orjson.dumps([key, dedup_key, at_ms])).hexdigest()
    return f"inc_{digest[:16]}"


def root_of(message: PagerMessage) -> Root:
    """The page's root entity, or the page itself (`page/<dedup_key>`) when it has none."""
    entity = message.payload.custom_details.root
    if entity is None:
        return Root(ALONE, message.dedup_key, f"{ALONE}/{message.dedup_key}")
    return Root(entity.name, entity.value, entity.ref)


def page_time(message: PagerMessage) -> int:
    """The message's event time in epoch ms; MessageError if `payload.timestamp` is not one."""
    try:
        return parse_iso_ms(message.payload.timestamp)
    except ValueError:
        raise MessageError("payload.timestamp: expected an ISO-8601 time with an offset") from None


def merge_entities(lists: Iterable[Iterable[Entity]]) -> tuple[Entity, ...]:
    """The union of top-down entity lists (by ref, each as first seen), top-down: by field, a
    field after every field some list puts before it (org_id, account_id, api_key_id, then side
    entities such as ip); where the lists leave the order open or disagree, first seen first."""
    first: dict[str, Entity] = {}
    after: dict[str, set[str]] = {}  # field -> the fields some list puts after it
    for entities in lists:
        names: list[str] = []
        for e in entities:
            first.setdefault(e.ref, e)
            after.setdefault(e.name, set())
            for n in names:
                if n != e.name:
                    after[n].add(e.name)
            names.append(e.name)
    rank = {name: n for n, name in enumerate(_topological(after))}
    seen = {ref: n for n, ref in enumerate(first)}
    return tuple(sorted(first.values(), key=lambda e: (rank[e.name], seen[e.ref])))


def _topological(after: dict[str, set[str]]) -> list[str]:
    """The keys of `after`, each after every key whose set holds it; ties and cycles broken by
    the keys' order."""
    order = {key: n for n, key in enumerate(after)}
    keys = list(after)
    waiting = dict.fromkeys(after, 0)  # key -> how many keys must come before it
    for later in after.values():
        for key in later:
            waiting[key] += 1
    ready = [order[k] for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while waiting:
        if not ready:  # a cycle: the first of what is left goes first
            heapq.heappush(ready, min(order[k] for k in waiting))
        key = keys[heapq.heappop(ready)]
        if key not in waiting:
            continue
        del waiting[key]
        out.append(key)
        for k in after[key]:
            if k in waiting:
                waiting[k] -= 1
                if waiting[k] == 0:
                    heapq.heappush(ready, order[k])
    return out
