"""Alert lifecycle per group: for / resolve_after / throttle, driven by event time only.

Detectors report what they see (a condition turned true or false, or an occurrence);
the lifecycle decides what is paged. Its timers (a pending `for`, a trigger deferred to the
end of a throttle, a due resolve) time a condition that detectors evaluate on the stream clock,
so they fire when the stream clock reaches them, never on the wall clock, and in event-time
order with everything else: a key's due timer fires before any later change of that key, and
a timer due at t fires before another change at t. So the same input gives the same pages
live, in a backtest, in a unit test and whatever the allowed lateness.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signalfire.engine.alert import Action, Evidence

# A group's key as the selection builds it (see `jsonkey`).
GroupKey = Any
EvidenceAt = Callable[[GroupKey, int], Evidence]

PENDING = 1
FIRING = 2
RESOLVING = 3


@dataclass(frozen=True, slots=True)
class Transition:
    """A lifecycle decision for one group, at event time `at`."""

    action: Action
    key: GroupKey
    at: int
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Policy:
    for_ms: int = 0
    resolve_after_ms: int | None = None
    throttle_ms: int = 0


class _Episode:
    __slots__ = ("armed", "cleared", "due", "gen", "state")

    def __init__(self, state: int, due: int, gen: int, armed: int = 0) -> None:
        self.state = state
        self.due = due
        self.gen = gen
        # Evidence as of the moment the condition cleared, sent with the resolve.
        self.cleared: Evidence | None = None
        # Position of what set the timer: the page it fires is never put before it.
        self.armed = armed


class Lifecycle:
    """Turns condition changes and occurrences into trigger/resolve transitions.

    `evidence_at(key, at)` is asked for the evidence at the moment a transition is emitted.
    Emitted transitions accumulate in `out` until the caller drains them, each with the lowest
    position in the stream it may be put at. The caller sets `seq` to the position of what it
    applies (an event, or time reaching a point).
    """

    def __init__(
        self, policy: Policy, evidence_at: EvidenceAt, on_timer: Callable[[int], None] | None = None
    ) -> None:
        self.policy = policy
        self.evidence_at = evidence_at
        # Told of every new timer, so a driver that sleeps until its next deadline wakes in time.
        self.on_timer = on_timer
        self.episodes: dict[GroupKey, _Episode] = {}
        self.last_trigger: dict[GroupKey, int] = {}
        self.timers: list[tuple[int, int, GroupKey]] = []
        self.out: list[tuple[int, Transition]] = []
        self.seq = 0
        self.suppressed = 0
        self._gen = 0

    # -- condition detectors -------------------------------------------------------------
    def cond_true(self, key: GroupKey, t: int) -> None:
        ep = self._settle(key, t)
        if ep is None:
            due = t + self.policy.for_ms
            last = self.last_trigger.get(key)
            if last is not None and self.policy.throttle_ms:
                free_at = last + self.policy.throttle_ms
                if free_at > due:
                    self.suppressed += 1
                    due = free_at
            if due <= t:
                self._trigger(self.seq, key, t, self.evidence_at(key, t))
                self.episodes[key] = _Episode(FIRING, 0, 0)
            else:
                self.episodes[key] = self._schedule(key, PENDING, due)
        elif ep.state == RESOLVING:
            ep.state = FIRING
            ep.gen = 0

    def cond_false(self, key: GroupKey, t: int) -> None:
        ep = self._settle(key, t)
        if ep is None:
            return
        if ep.state == PENDING:
            del self.episodes[key]
        elif ep.state == FIRING:
            after = self.policy.resolve_after_ms or 0
            if after == 0:
                del self.episodes[key]
                evidence = self.evidence_at(key, t)
                self.out.append((self.seq, Transition("resolve", key, t, evidence)))
            else:
                ep = self.episodes[key] = self._schedule(key, RESOLVING, t + after)
                ep.cleared = self.evidence_at(key, t)

    # -- occurrence detectors ------------------------------------------------------------
    def occurred(self, key: GroupKey, t: int, evidence: Evidence) -> None:
        """An occurrence triggers unless throttled; with `resolve_after`, the page it opened
        (or the open page it falls into) resolves that long after the group's last occurrence.
        A suppressed occurrence after that resolve opens nothing: one resolve per trigger."""
        ep = self._settle(key, t)
        last = self.last_trigger.get(key)
        if last is not None and t < last + self.policy.throttle_ms:
            self.suppressed += 1
            if ep is None:
                return
        else:
            self._trigger(self.seq, key, t, evidence)
        after = self.policy.resolve_after_ms
        if after and (ep is None or ep.due < t + after):
            self.episodes[key] = self._schedule(key, RESOLVING, t + after)

    # -- time ----------------------------------------------------------------------------
    def next_due(self) -> int | None:
        return self.timers[0][0] if self.timers else None

    def fire_due(self, now: int) -> None:
        """Fire every timer due at or before stream time `now`, in due order."""
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, gen, key = heapq.heappop(timers)
            ep = self.episodes.get(key)
            if ep is not None and ep.gen == gen:
                self._fire(key, ep)

    def _settle(self, key: GroupKey, t: int) -> _Episode | None:
        """The key's episode once its timer due at or before `t` has fired (its heap entry
        is then stale and skipped)."""
        ep = self.episodes.get(key)
        if ep is not None and ep.gen and ep.due <= t:
            self._fire(key, ep)
            return self.episodes.get(key)
        return ep

    def _fire(self, key: GroupKey, ep: _Episode) -> None:
        due = ep.due
        floor = max(ep.armed, self.seq)
        if ep.state == PENDING:
            ep.state = FIRING
            ep.gen = 0
            self._trigger(floor, key, due, self.evidence_at(key, due))
        elif ep.state == RESOLVING:
            del self.episodes[key]
            evidence = ep.cleared or self.evidence_at(key, due)
            self.out.append((floor, Transition("resolve", key, due, evidence)))

    def drop(self, key: GroupKey, t: int) -> None:
        """The detector forgot the group (state cap): a held condition ends here."""
        self.cond_false(key, t)

    def _trigger(self, floor: int, key: GroupKey, t: int, evidence: Evidence) -> None:
        self.out.append((floor, Transition("trigger", key, t, evidence)))
        if self.policy.throttle_ms:
            self.last_trigger.pop(key, None)
            self.last_trigger[key] = t

    def _schedule(self, key: GroupKey, state: int, due: int) -> _Episode:
        self._gen += 1
        heapq.heappush(self.timers, (due, self._gen, key))
        if self.on_timer is not None:
            self.on_timer(due)
        return _Episode(state, due, self._gen, self.seq)

    def forget_throttles(self, watermark: int) -> None:
        """Drop throttle memory that no event at or after the watermark can hit."""
        # Kept in trigger order, so the stale ones are at the front.
        horizon = watermark - self.policy.throttle_ms
        last = self.last_trigger
        while last:
            key = next(iter(last))
            if last[key] > horizon:
                break
            del last[key]

    @property
    def active(self) -> int:
        return len(self.episodes)
