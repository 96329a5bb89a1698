"""`absence`: a group that was seen sends no matching event for `window`.

Per group `[last_ts, touch_slot]`, kept in order of activity (re-ordered at most once per
slot of window/60). When the watermark reaches last + window the condition holds: the
group moves to `silent` and the lifecycle triggers. Its next event ends the silence.
"""

from __future__ import annotations

from typing import Any

from alerting.model import Evidence, GroupKey
from signalfire.engine.clock import NEVER, BatchClock
from signalfire.engine.detectors.base import Detector
from signalfire.engine.settings import EngineSettings
from signalfire.filters.compile import Event
from signalfire.rules.model import Rule


class AbsenceDetector(Detector):
    kind = "absence"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.window = rule.detect.window_ms
        self.slot = max(1, self.window // 60)
        self.groups: dict[GroupKey, list[int]] = {}
        self.silent: dict[GroupKey, int] = {}

    def group_count(self) -> int:
        return len(self.groups) + len(self.silent)

    def apply(
        self, evs: list[Event], idxs: list[int], keys: list[Any], vals: list[Any],
        clock: BatchClock,
    ) -> None:  # fmt: skip
        nows, seq0, lateness, lc = clock.nows, clock.seq0, clock.lateness, self.lc
        groups, slot = self.groups, self.slot
        for i, key in zip(idxs, keys, strict=True):
            now = nows[i]
            if now >= self.tick:
                self.catch_up(now, now - lateness, clock)
            e = evs[i]
            ts = e["ts"]
            g = groups.get(key)
            if g is None:
                if self.silent.pop(key, None) is not None:
                    lc.cond_false(key, ts)
                groups[key] = [ts, ts // slot]
                if len(groups) + len(self.silent) > self.cap:
                    self._evict_oldest(ts)
                self.tick = min(self.tick, ts + self.window + lateness)
            else:
                if ts > g[0]:
                    g[0] = ts
                touch = ts // slot
                if touch > g[1]:
                    g[1] = touch
                    del groups[key]
                    groups[key] = g
            self.note(key, e)
            if lc.out:
                self.collect(seq0 + i)

    def _evict_oldest(self, t: int) -> None:
        self.stats.cap_evictions += 1
        if len(self.groups) > 1:
            old = next(iter(self.groups))
            del self.groups[old]
        else:
            old = next(iter(self.silent))
            del self.silent[old]
            self.lc.drop(old, t)
        self.forget(old)

    def next_timer(self) -> int:
        if not self.groups:
            return NEVER
        return self.groups[next(iter(self.groups))][0] + self.window

    def fire(self, wm: int) -> None:
        groups = self.groups
        while groups:
            key = next(iter(groups))
            due = groups[key][0] + self.window
            if due > wm:
                break
            del groups[key]
            self.silent[key] = due
            self.lc.cond_true(key, due)

    def snapshot(self, key: GroupKey, at: int) -> Evidence:
        last = self.silent.get(key)
        silent_s = (at - (last - self.window)) / 1000 if last is not None else 0
        return Evidence(
            value=silent_s, window_start=at - self.window, window_end=at,
            sample_event_ids=self.sample_ids(key), top=self.top_of(key),
        )  # fmt: skip
