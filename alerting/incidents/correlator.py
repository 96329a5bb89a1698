"""The correlator: pager messages in, one decision each (the rules are in the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable

from alerting.incidents.counters import Counters
from alerting.incidents.model import (
    ALONE,
    Decision,
    Incident,
    Root,
    What,
    incident_id,
    page_time,
    root_of,
)
from alerting.incidents.snapshot import Saved, dump, load
from alerting.incidents.state import IncidentState
from alerting.pager import PagerMessage

DEFAULT_WINDOW_MS = 30 * 60_000
DEFAULT_MAX_OPEN = 100_000
# A trigger looks for its parent pages by every subset of its entities while there are fewer of
# those than firing pages to try; past that it tries the firing pages.
_SUBSETS_UP_TO = 10

Seen = tuple[str, str, int]  # dedup key, action, event time


class Correlator:
    """Reads pager messages in order; `decide` says what each does to the incidents."""

    def __init__(
        self, window_ms: int = DEFAULT_WINDOW_MS, max_open: int = DEFAULT_MAX_OPEN
    ) -> None:
        if window_ms < 0:
            raise ValueError("window_ms: must be 0 or more")
        if max_open < 1:
            raise ValueError("max_open: must be at least 1")
        self.window_ms = window_ms
        self.max_open = max_open
        self.counters = Counters()
        self.clock: int | None = None  # the highest event time read
        self._next_seq = 0
        self._open: dict[str, IncidentState] = {}  # in order of opening
        self._resolved: dict[str, IncidentState] = {}  # in order of resolving
        self._seen: dict[Seen, Decision] = {}  # in order of reading
        self._firing: dict[str, str] = {}  # dedup key -> the open incident it fires in
        self._by_root: dict[str, list[str]] = {}  # incident key -> open incidents, oldest first

    # -- reading ------------------------------------------------------------------------------
    def decide(self, message: PagerMessage) -> Decision:
        """What `message` does; MessageError (alerting.pager) if its timestamp is not a time."""
        at = page_time(message)
        seen = (message.dedup_key, message.event_action, at)
        decision = self._seen.get(seen)
        if decision is not None:
            return decision
        self.clock = at if self.clock is None else max(self.clock, at)
        if message.event_action == "trigger":
            decision = self._trigger(message, at)
        else:
            decision = self._resolve(message.dedup_key, at)
        self.counters.count(decision.what)
        self._seen[seen] = decision
        self._forget()
        return decision

    def _trigger(self, message: PagerMessage, at: int) -> Decision:
        dedup_key = message.dedup_key
        where = self._firing.get(dedup_key)
        if where is not None:
            inc = self._open[where]
            inc.triggered(at)
            return _decision(inc, "updated")
        root = root_of(message)
        entities = message.payload.custom_details.entities
        candidates = [self._open[i] for i in self._by_root.get(root.ref, ())]
        parent = _closest_parent(candidates, frozenset(e.ref for e in entities))
        if parent is not None:
            inc, absorbed_by = parent
            inc.enter(dedup_key, message.payload.component, entities, at, absorbed_by)
            self._firing[dedup_key] = inc.id
            return _decision(inc, "absorbed", absorbed_by)
        recent = [i for i in candidates if i.last_trigger_at >= at - self.window_ms]
        if recent:
            inc = recent[-1]
            inc.enter(dedup_key, message.payload.component, entities, at)
            self._firing[dedup_key] = inc.id
            return _decision(inc, "joined")
        return self._opened(root, message, at)

    def _opened(self, root: Root, message: PagerMessage, at: int) -> Decision:
        new = incident_id(root.ref, message.dedup_key, at)
        self._resolved.pop(new, None)  # the same page at the same time, long forgotten
        inc = IncidentState(new, self._next_seq, root, at, at)
        self._next_seq += 1
        inc.enter(
            message.dedup_key,
            message.payload.component,
            message.payload.custom_details.entities,
            at,
        )
        self._open[new] = inc
        self._by_root.setdefault(root.ref, []).append(new)
        self._firing[message.dedup_key] = new
        dropped = None
        if len(self._open) > self.max_open:
            dropped = self._drop_oldest()
        return _decision(inc, "opened", dropped=dropped)

    def _drop_oldest(self) -> str:
        oldest = next(iter(self._open.values()))
        self._close(oldest)
        self.counters.dropped += 1
        return oldest.id

    def _resolve(self, dedup_key: str, at: int) -> Decision:
        where = self._firing.pop(dedup_key, None)
        if where is None:
            key = f"{ALONE}/{dedup_key}"
            return Decision(
                incident_id(key, dedup_key, at), "alone", Root(ALONE, dedup_key, key), at, 1, 0
            )
        inc = self._open[where]
        if not inc.leave(dedup_key, at):
            return _decision(inc, "page_resolved")
        self._close(inc)
        self._resolved[inc.id] = inc
        self.counters.resolved_with(len(inc.pages))
        return _decision(inc, "resolved")

    def _close(self, inc: IncidentState) -> None:
        """`inc` is open no longer: resolved, or dropped by the cap."""
        del self._open[inc.id]
        same_root = self._by_root[inc.root.ref]
        same_root.remove(inc.id)
        if not same_root:
            del self._by_root[inc.root.ref]
        for dedup_key, page in inc.pages.items():
            if page.resolved_at is None:
                del self._firing[dedup_key]

    def _forget(self) -> None:
        """Resolved incidents and decisions the clock is more than W past; beyond N of either,
        the oldest."""
        assert self.clock is not None
        horizon = self.clock - self.window_ms
        while self._resolved:
            inc = next(iter(self._resolved.values()))
            assert inc.resolved_at is not None
            if inc.resolved_at >= horizon and len(self._resolved) <= self.max_open:
                break
            del self._resolved[inc.id]
        while self._seen:
            oldest = next(iter(self._seen))
            if oldest[2] >= horizon and len(self._seen) <= self.max_open:
                break
            del self._seen[oldest]

    # -- looking ------------------------------------------------------------------------------
    def incident(self, incident_id: str) -> Incident | None:
        """An open incident, or a resolved one not yet forgotten."""
        inc = self._open.get(incident_id) or self._resolved.get(incident_id)
        return None if inc is None else inc.view()

    def incidents(self) -> list[Incident]:
        """Every incident kept (open, and resolved not yet forgotten), in order of opening."""
        kept = sorted([*self._open.values(), *self._resolved.values()], key=lambda i: i.seq)
        return [i.view() for i in kept]

    @property
    def open_count(self) -> int:
        return len(self._open)

    # -- state --------------------------------------------------------------------------------
    def save(self) -> bytes:
        """The whole state as versioned JSON (alerting.incidents.snapshot)."""
        return dump(
            Saved(
                self.window_ms,
                self.max_open,
                self.clock,
                self._next_seq,
                self.counters,
                list(self._open.values()),
                list(self._resolved.values()),
                list(self._seen.items()),
            )
        )

    @classmethod
    def restore(
        cls, data: bytes, *, window_ms: int | None = None, max_open: int | None = None
    ) -> Correlator:
        """The correlator `save` wrote; SnapshotError if `data` is not one this build reads.
        A window or cap given here replaces the saved one (a lower cap drops the oldest-opened
        incidents at once, counted)."""
        saved = load(data)
        c = cls(
            saved.window_ms if window_ms is None else window_ms,
            saved.max_open if max_open is None else max_open,
        )
        c.clock = saved.clock
        c._next_seq = saved.next_seq
        c.counters = saved.counters
        for inc in saved.open:
            c._open[inc.id] = inc
            c._by_root.setdefault(inc.root.ref, []).append(inc.id)
            for dedup_key, page in inc.pages.items():
                if page.resolved_at is None:
                    c._firing[dedup_key] = inc.id
        c._resolved = {inc.id: inc for inc in saved.resolved}
        c._seen = dict(saved.seen)
        while len(c._open) > c.max_open:
            c._drop_oldest()
        if c.clock is not None:
            c._forget()
        return c

    @classmethod
    def replay(
        cls,
        messages: Iterable[PagerMessage],
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        max_open: int = DEFAULT_MAX_OPEN,
    ) -> Correlator:
        """A correlator that has read `messages`: the state `save` would have kept."""
        c = cls(window_ms, max_open)
        for message in messages:
            c.decide(message)
        return c


def _decision(
    inc: IncidentState, what: What, absorbed_by: str | None = None, dropped: str | None = None
) -> Decision:
    return Decision(
        inc.id, what, inc.root, inc.opened_at, len(inc.pages), inc.firing, absorbed_by, dropped
    )


def _closest_parent(
    candidates: list[IncidentState], refs: frozenset[str]
) -> tuple[IncidentState, str] | None:
    """The firing page about a parent of `refs` (its refs a strict subset of them) with the most
    entities; among equals, in the most recently opened incident, then the lowest dedup key."""
    best: tuple[tuple[int, int], IncidentState, str] | None = None
    for inc in candidates:
        for parent_refs, dedup_keys in _parents(inc, refs):
            rank, key = (len(parent_refs), inc.seq), min(dedup_keys)
            if best is None or rank > best[0] or (rank == best[0] and key < best[2]):
                best = (rank, inc, key)
    return None if best is None else (best[1], best[2])


def _parents(inc: IncidentState, refs: frozenset[str]) -> list[tuple[frozenset[str], set[str]]]:
    """The firing pages of `inc` whose refs are a strict subset of `refs`, by their refs."""
    if len(refs) <= _SUBSETS_UP_TO and (1 << len(refs)) <= len(inc.firing_by_refs):
        ordered = sorted(refs)
        subsets = (
            frozenset(r for bit, r in enumerate(ordered) if mask >> bit & 1)
            for mask in range((1 << len(refs)) - 1)
        )
        return [(s, inc.firing_by_refs[s]) for s in subsets if s in inc.firing_by_refs]
    return [(s, keys) for s, keys in inc.firing_by_refs.items() if s < refs]
