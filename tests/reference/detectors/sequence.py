"""`sequence`: ordered steps by the same group within `within`.

Every partial match that can still complete is tracked, per group, oldest first:
`[step, count, first_ts, ids, top]` (`top`: counts of the `evidence.top` fields over the
partial's events, or None without `evidence.top`). A partial is dropped when a younger one
reaches the same progress (whatever completes the older one completes the younger one at the
same event, and the younger has more time left), so the list is ordered by age and by
progress at once, and holds at most one partial per progress state. Beyond `MAX_PARTIALS`
per group, new starts are dropped and counted: the partials kept are the ones furthest along.

A partial that reached a final `absent` step waits in `waiting` for its deadline (first +
within), ordered by a heap of deadlines: an event of that step at or before the deadline
cancels it, the watermark reaching the deadline (or a later event of the group) makes it an
occurrence. After an occurrence the group starts over: every partial begun at or before it is
dropped (no two matches share an event).
"""

from __future__ import annotations

import heapq
from typing import Any

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER, BatchClock
from tests.reference.detectors.base import Detector, TopCounts, count_top, shown_top
from tests.reference.events import Event
from tests.reference.filters import SelectSpec
from tests.reference.lifecycle import GroupKey

MAX_IDS = 10
MAX_PARTIALS = 32
STEP, COUNT, FIRST, IDS, TOP = 0, 1, 2, 3, 4


class SequenceDetector(Detector):
    kind = "sequence"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.steps = rule.detect.steps
        self.need = [s.count for s in self.steps]
        self.within = rule.detect.within_ms
        self.absent_last = self.steps[-1].absent
        self.partials: dict[GroupKey, list[list[Any]]] = {}
        # absent-last partials per group, each with its deadline: [first_ts, ids, order, top]
        self.waiting: dict[GroupKey, list[list[Any]]] = {}
        self.deadlines: list[tuple[int, int, GroupKey]] = []
        # when each partial stops being able to complete: (first + within + 1, order, key)
        self.expiries: list[tuple[int, int, GroupKey]] = []
        self._order = 0

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        return SelectSpec(
            rule.where,
            rule.group_by,
            "mask",
            value_filters=tuple(s.where for s in rule.detect.steps),
        )

    def group_count(self) -> int:
        return len(self.partials.keys() | self.waiting.keys())

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0 = clock.seq0
        last_bit = 1 << (len(self.steps) - 1)
        for i, key, mask in zip(idxs, keys, vals, strict=True):
            self.reach(i, clock)
            e = evs[i]
            ts = e["ts"]
            if key in self.waiting:
                self._settle(key, ts, cancel=self.absent_last and bool(mask & last_bit))
            self._step(key, mask, ts, e)
            if self.lc.out:
                self.collect(seq0 + i)

    def _settle(self, key: GroupKey, ts: int, cancel: bool) -> None:
        """Deadlines of the group at or before `ts` happened first; an event of the absent step
        cancels the partials whose deadline is still ahead."""
        while waiting := self.waiting.get(key):
            p = min(waiting, key=lambda w: w[0])
            due = p[0] + self.within
            if due >= ts:  # an absent-step event at the deadline is still in time
                break
            self._matched_by_deadline(key, p, due)
        if cancel and key in self.waiting:
            del self.waiting[key]

    def _step(self, key: GroupKey, mask: int, ts: int, event: Event) -> None:
        plist = self.partials.get(key)
        if plist is not None:
            while plist and ts - plist[0][FIRST] > self.within:
                del plist[0]
            for p in plist:
                if mask & (1 << p[STEP]):
                    self._advance(p, event)
        if mask & 1:
            if plist is None:
                plist = self.partials[key] = []
                if len(self.partials) > self.cap:
                    self.stats.cap_evictions += 1
                    self._drop_group(next(iter(self.partials)))
                    if key not in self.partials:
                        return
            if len(plist) + len(self.waiting.get(key, ())) >= MAX_PARTIALS:
                self.stats.partials_dropped += 1
            else:
                top: TopCounts | None = (
                    {f: {} for f in self.rule.counted_fields} if self.rule.counted_fields else None
                )
                p = [0, 0, ts, [], top]
                self._advance(p, event)
                plist.append(p)
                self._order += 1
                due = ts + self.within + 1
                heapq.heappush(self.expiries, (due, self._order, key))
                self.tick = min(self.tick, due + self.lateness)
        if plist is None:
            return
        self._settle_progress(key, plist, ts)

    def _advance(self, p: list[Any], event: Event) -> None:
        p[COUNT] += 1
        if p[TOP] is not None:
            count_top(p[TOP], event)
        ids = p[IDS]
        ids.append(event["event_id"])
        if len(ids) > MAX_IDS:
            del ids[0]
        if p[COUNT] >= self.need[p[STEP]]:
            p[STEP] += 1
            p[COUNT] = 0

    def _settle_progress(self, key: GroupKey, plist: list[list[Any]], ts: int) -> None:
        """Complete, park at the absent step, or drop (dominated) the group's partials."""
        kept: list[list[Any]] = []
        for p in plist:
            if p[STEP] == len(self.steps):
                self._drop_group(key)
                self.lc.occurred(key, ts, self._evidence(p[FIRST], p[IDS], ts, p[TOP]))
                return
            if self.steps[p[STEP]].absent:
                self._wait(key, p)
                continue
            if kept and kept[-1][STEP] == p[STEP] and kept[-1][COUNT] == p[COUNT]:
                kept[-1] = p  # the younger partial dominates the older one
            else:
                kept.append(p)
        if kept:
            plist[:] = kept
        else:
            del self.partials[key]

    def _wait(self, key: GroupKey, p: list[Any]) -> None:
        self._order += 1
        self.waiting.setdefault(key, []).append([p[FIRST], p[IDS], self._order, p[TOP]])
        # The window includes its last instant: decided once the watermark is past it.
        after = p[FIRST] + self.within + 1
        heapq.heappush(self.deadlines, (after, self._order, key))
        self.tick = min(self.tick, after + self.lateness)

    def _drop_group(self, key: GroupKey) -> None:
        self.partials.pop(key, None)
        self.waiting.pop(key, None)

    def _matched_by_deadline(self, key: GroupKey, p: list[Any], due: int) -> None:
        """A waiting partial reached its deadline: an occurrence; the group starts over from
        the partials begun after the deadline."""
        plist = [x for x in self.partials.get(key, ()) if x[FIRST] > due]
        waiting = [w for w in self.waiting.get(key, ()) if w[0] > due]
        self._drop_group(key)
        if plist:
            self.partials[key] = plist
        if waiting:
            self.waiting[key] = waiting
        self.lc.occurred(key, due, self._evidence(p[0], p[1], due, p[3]))

    def _evidence(self, first: int, ids: list[str], at: int, top: TopCounts | None) -> Evidence:
        return Evidence(
            value=len(self.steps),
            window_start=first,
            window_end=at,
            sample_event_ids=tuple(ids[-MAX_IDS:]),
            top=shown_top(top) if top else {},
        )

    def next_timer(self) -> int:
        soonest = self.deadlines[0][0] if self.deadlines else NEVER
        if self.expiries:
            soonest = min(soonest, self.expiries[0][0])
        return soonest

    def fire(self, wm: int) -> None:
        expiries = self.expiries
        while expiries and expiries[0][0] <= wm:
            _, _, key = heapq.heappop(expiries)
            plist = self.partials.get(key)
            if plist is None:
                continue
            while plist and plist[0][FIRST] + self.within < wm:
                del plist[0]
            if not plist:
                del self.partials[key]
        while self.deadlines and self.deadlines[0][0] <= wm:
            _, order, key = heapq.heappop(self.deadlines)
            for p in self.waiting.get(key, ()):
                if p[2] == order:
                    self._matched_by_deadline(key, p, p[0] + self.within)
                    break
