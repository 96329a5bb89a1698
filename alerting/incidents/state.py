"""An incident while it changes: its pages, which of them fire, and its frozen view."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerting.incidents.model import Incident, Member, Root
from alerting.pager import Entity


@dataclass(slots=True)
class PageState:
    dedup_key: str
    rule: str
    entities: tuple[Entity, ...]
    first_trigger_at: int
    resolved_at: int | None = None
    absorbed_by: str | None = None

    @property
    def refs(self) -> frozenset[str]:
        return frozenset(e.ref for e in self.entities)

    def view(self) -> Member:
        return Member(
            self.dedup_key,
            self.rule,
            self.entities,
            self.first_trigger_at,
            self.resolved_at,
            self.absorbed_by,
        )


@dataclass(slots=True)
class IncidentState:
    id: str
    seq: int  # the order of opening: a later incident has a higher one
    root: Root
    opened_at: int
    last_trigger_at: int
    resolved_at: int | None = None
    pages: dict[str, PageState] = field(default_factory=dict)  # by dedup key, in order of entry
    firing: int = 0
    # The firing pages by their entity refs: where a trigger looks for its parent pages.
    firing_by_refs: dict[frozenset[str], set[str]] = field(default_factory=dict)

    def enter(
        self,
        dedup_key: str,
        rule: str,
        entities: tuple[Entity, ...],
        at: int,
        absorbed_by: str | None = None,
    ) -> None:
        """A trigger of a page that does not fire here: a new page, or one that resolved here
        firing again (its first trigger stays)."""
        page = self.pages.get(dedup_key)
        if page is None:
            page = self.pages[dedup_key] = PageState(dedup_key, rule, entities, at)
        elif page.resolved_at is None:
            return
        page.entities = entities
        page.resolved_at = None
        page.absorbed_by = absorbed_by
        self.firing += 1
        self.firing_by_refs.setdefault(page.refs, set()).add(dedup_key)
        self.triggered(at)

    def triggered(self, at: int) -> None:
        self.last_trigger_at = max(self.last_trigger_at, at)

    def leave(self, dedup_key: str, at: int) -> bool:
        """A firing page resolves; True when that resolves the incident."""
        page = self.pages[dedup_key]
        if page.resolved_at is not None:
            return self.firing == 0
        page.resolved_at = at
        self.firing -= 1
        same = self.firing_by_refs[page.refs]
        same.discard(dedup_key)
        if not same:
            del self.firing_by_refs[page.refs]
        if self.firing == 0:
            # Every page has resolved: the incident with the latest of them.
            self.resolved_at = max(
                p.resolved_at for p in self.pages.values() if p.resolved_at is not None
            )
        return self.firing == 0

    def view(self) -> Incident:
        return Incident(
            self.id,
            self.root,
            self.opened_at,
            self.resolved_at,
            tuple(p.view() for p in self.pages.values()),
        )
