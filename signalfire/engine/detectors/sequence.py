"""`sequence`: ordered steps by the same group within `within`.

One partial match per group, in `partials` (insertion order = start order): `[step, count,
first_ts, ids]`. A partial that reached a final `absent` step waits in `waiting` for its
deadline (first + within), ordered by a heap of deadlines: an event of that step cancels
it, the watermark reaching the deadline makes it an occurrence. Expired partials are swept
from the front as time passes.
"""

from __future__ import annotations

import heapq
from typing import Any

from alerting.model import Evidence, GroupKey
from signalfire.engine.clock import NEVER, BatchClock
from signalfire.engine.detectors.base import Detector
from signalfire.engine.settings import EngineSettings
from signalfire.filters.compile import Event, SelectSpec
from signalfire.rules.model import Rule

MAX_IDS = 10


class SequenceDetector(Detector):
    kind = "sequence"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.steps = rule.detect.steps
        self.within = rule.detect.within_ms
        self.absent_last = self.steps[-1].absent
        self.partials: dict[GroupKey, list[Any]] = {}
        self.waiting: dict[GroupKey, list[Any]] = {}
        self.deadlines: list[tuple[int, int, GroupKey]] = []
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
        return len(self.partials) + len(self.waiting)

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        nows, seq0, lateness = clock.nows, clock.seq0, clock.lateness
        last_bit = 1 << (len(self.steps) - 1)
        for i, key, mask in zip(idxs, keys, vals, strict=True):
            now = nows[i]
            if now >= self.tick:
                self.catch_up(now, now - lateness, clock)
            e = evs[i]
            ts = e["ts"]
            if self.absent_last and mask & last_bit:
                waiting = self.waiting.get(key)
                if waiting is not None and ts <= waiting[2] + self.within:
                    del self.waiting[key]
            self._step(key, mask, ts, e["event_id"])
            if self.lc.out:
                self.collect(seq0 + i)

    def _step(self, key: GroupKey, mask: int, ts: int, event_id: str) -> None:
        p = self.partials.get(key)
        if p is not None and ts - p[2] > self.within:
            del self.partials[key]
            p = None
        if p is not None:
            if not mask & (1 << p[0]):
                return
            p[1] += 1
            p[3].append(event_id)
            del p[3][:-MAX_IDS]
        elif mask & 1:
            p = [0, 1, ts, [event_id]]
            self.partials[key] = p
            if len(self.partials) > self.cap:
                self.stats.cap_evictions += 1
                del self.partials[next(iter(self.partials))]
                if key not in self.partials:
                    return
            self.tick = min(self.tick, ts + self.within + self.lateness)
        else:
            return
        if p[1] < self.steps[p[0]].count:
            return
        p[0] += 1
        p[1] = 0
        if p[0] == len(self.steps):
            del self.partials[key]
            self.lc.occurred(key, ts, self._evidence(p, ts))
        elif self.steps[p[0]].absent:
            del self.partials[key]
            if key not in self.waiting:
                self.waiting[key] = p
                self._order += 1
                p.append(self._order)
                due = p[2] + self.within
                heapq.heappush(self.deadlines, (due, self._order, key))
                self.tick = min(self.tick, due + self.lateness)

    def _evidence(self, p: list[Any], at: int) -> Evidence:
        return Evidence(
            value=len(self.steps),
            window_start=p[2],
            window_end=at,
            sample_event_ids=tuple(p[3][-MAX_IDS:]),
        )

    def next_timer(self) -> int:
        soonest = self.deadlines[0][0] if self.deadlines else NEVER
        if self.partials:
            soonest = min(soonest, self.partials[next(iter(self.partials))][2] + self.within)
        return soonest

    def fire(self, wm: int) -> None:
        while self.partials:
            key = next(iter(self.partials))
            if self.partials[key][2] + self.within > wm:
                break
            del self.partials[key]
        while self.deadlines and self.deadlines[0][0] <= wm:
            due, order, key = heapq.heappop(self.deadlines)
            p = self.waiting.get(key)
            if p is None or p[4] != order:
                continue  # cancelled by an event of the absent step
            del self.waiting[key]
            self.lc.occurred(key, due, self._evidence(p, due))
