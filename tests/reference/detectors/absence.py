"""`absence`: a group that was seen sends no matching event for `window`.

Per group `[last_ts, queued_due]`, in creation order (the group cap evicts from the front).
Each group has exactly one entry in a heap of deadlines, pushed when it is created. When the
watermark passes an entry, the group is silent if its last event is still that old; if it
was seen since, the entry goes back with the new deadline. Events cost no heap work, and
silences fire in deadline order.
"""

from __future__ import annotations

import heapq
from typing import Any

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER, BatchClock
from tests.reference.detectors.base import Detector
from tests.reference.events import Event
from tests.reference.lifecycle import GroupKey


class AbsenceDetector(Detector):
    kind = "absence"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.window = rule.detect.window_ms
        self.groups: dict[GroupKey, list[int]] = {}
        self.silent: dict[GroupKey, int] = {}
        self.deadlines: list[tuple[int, int, GroupKey]] = []
        self._order = 0

    def group_count(self) -> int:
        return len(self.groups) + len(self.silent)

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0, lc = clock.seq0, self.lc
        groups = self.groups
        for i, key in zip(idxs, keys, strict=True):
            self.reach(i, clock)
            e = evs[i]
            ts = e["ts"]
            g = groups.get(key)
            if g is not None and ts >= g[0] + self.window:
                # The gap ended past the deadline: the silence happened first, whatever the
                # watermark's lag, exactly as if the deadline had fired on time.
                self._silence(key, g[0] + self.window)
                g = None
            if g is None:
                if self.silent.pop(key, None) is not None:
                    lc.cond_false(key, ts)
                self._track(key, ts)
                if len(groups) + len(self.silent) > self.cap:
                    self._evict_oldest(ts)
            elif ts > g[0]:
                g[0] = ts
            self.note(key, e)
            if lc.out:
                self.collect(seq0 + i)

    def _track(self, key: GroupKey, ts: int) -> None:
        due = ts + self.window
        self.groups[key] = [ts, due]
        self._push(due, key)

    def _push(self, due: int, key: GroupKey) -> None:
        self._order += 1
        heapq.heappush(self.deadlines, (due, self._order, key))
        self.tick = min(self.tick, due + self.lateness)

    def _evict_oldest(self, t: int) -> None:
        self.stats.cap_evictions += 1
        if self.groups:
            old = next(iter(self.groups))
            del self.groups[old]
        else:
            old = next(iter(self.silent))
            del self.silent[old]
            self.lc.drop(old, t)
        self.forget(old)

    def next_timer(self) -> int:
        return self.deadlines[0][0] if self.deadlines else NEVER

    def fire(self, wm: int) -> None:
        deadlines, groups = self.deadlines, self.groups
        while deadlines and deadlines[0][0] <= wm:
            due, _, key = heapq.heappop(deadlines)
            g = groups.get(key)
            if g is None or g[1] != due:
                continue  # evicted, or already silent
            actual = g[0] + self.window
            if actual > due:
                g[1] = actual
                self._order += 1
                heapq.heappush(deadlines, (actual, self._order, key))
                continue
            self._silence(key, due)

    def _silence(self, key: GroupKey, due: int) -> None:
        del self.groups[key]
        self.silent[key] = due
        self.lc.cond_true(key, due)

    def evidence_at(self, key: GroupKey, at: int) -> Evidence:
        since = self.silent.get(key)
        silent_s = (at - (since - self.window)) / 1000 if since is not None else 0
        first, counted = self.counted_span(key)
        return Evidence(
            value=silent_s,
            window_start=at - self.window,
            window_end=at,
            sample_event_ids=self.sample_ids(key),
            top=self.top_of(key),
            counted_since=first,
            counted_events=counted,
        )
