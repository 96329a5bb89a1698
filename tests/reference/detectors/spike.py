"""`spike`: the current window's count or sum against the windows before it.

Spikes are judged on bucket boundaries, on whole buckets only: at a boundary t the current
window is [t-w, t) and baseline window j is [t-(j+1)w, t-jw), j = 1..k, all exactly w = n
buckets long. A bucket still filling is in none of them, so constant traffic compares equal
windows and never fires.

Every stored bucket is in one stage as the boundaries pass it: filling (-1), current (0),
baseline window j (1..k), then gone. Per group, `sums` keeps `[amount, count]` of each stage
0..k side by side, so a boundary moves a bucket's contributions one stage on and re-judges
only the groups it holds.

With `seasonality: P` the baseline windows are the same time of day (or week) instead: window
j is [t-jP-w, t-jP). Then a bucket is a whole window (spikes are judged at multiples of w),
and buckets between those windows wait (-2) until they are one.

While a group's condition holds, and until the windows it held in have left the baseline
((k+1) x w after it last held), its baseline stays frozen at its value when the condition
first held: a sustained attack never becomes its own baseline.
"""

from __future__ import annotations

import statistics
from typing import Any

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER, BatchClock
from tests.reference.detectors.windowed import WindowedDetector
from tests.reference.events import Event
from tests.reference.filters import SelectSpec
from tests.reference.lifecycle import GroupKey

FILLING = -1
WAITING = -2


class SpikeDetector(WindowedDetector):
    kind = "spike"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        d = rule.detect
        self.k = d.baseline_windows
        self.factor = d.factor
        self.min_count = d.min_count
        self.direction = d.direction
        self.median = d.baseline == "median"
        self.span = self.n * self.res  # the exact window length
        # seasonal: windows per period (the bucket is the window then), else None
        self.m = d.seasonality_ms // self.span if d.seasonality_ms else None
        self.history_ms = (
            self.k * d.seasonality_ms + self.span
            if d.seasonality_ms
            else ((self.k + 1) * self.span)
        )
        # first bucket still filling: buckets below it are complete
        self.boundary = -NEVER
        self.sums: dict[GroupKey, list[float]] = {}
        self.first_seen: dict[GroupKey, int] = {}
        # group -> [baseline amount, baseline mean count, release time or NEVER while it holds]
        self.frozen: dict[GroupKey, list[float]] = {}

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        d = rule.detect
        if d.aggregate == "sum":
            return SelectSpec(rule.where, rule.group_by, "number", d.field)
        return SelectSpec(rule.where, rule.group_by)

    # -- stages ----------------------------------------------------------------------------
    def stage(self, b: int) -> int:
        if b >= self.boundary:
            return FILLING
        return self._stage_at(self.boundary - 1 - b)

    def _stage_at(self, age: int) -> int:
        """Stage of a complete bucket `age` buckets before the newest complete one."""
        if self.m is None:
            return age // self.n
        j, rest = divmod(age, self.m)
        if rest == 0 or age == 0:
            return j
        return WAITING if j < self.k else self.k + 1

    def _next_change(self, b: int) -> int:
        """Stream time of the next boundary at which bucket b changes stage."""
        if b >= self.boundary:
            return (b + 1) * self.res
        age = self.boundary - 1 - b
        if self.m is None:
            return (b + (age // self.n + 1) * self.n + 1) * self.res
        now = self._stage_at(age)
        nxt = age + 1
        while self._stage_at(nxt) == now:
            nxt = (nxt // self.m + 1) * self.m  # the next multiple of a period: a baseline
        return (b + nxt + 1) * self.res

    def _add(self, key: GroupKey, stage: int, amount: float, count: int) -> None:
        sums = self.sums.get(key)
        if sums is None:
            sums = self.sums[key] = [0.0] * (2 * (self.k + 1))
        sums[2 * stage] += amount
        sums[2 * stage + 1] += count

    # -- condition -------------------------------------------------------------------------
    def baseline_of(self, key: GroupKey) -> tuple[float, float]:
        """(baseline amount, mean count per baseline window) now in force for the group."""
        frozen = self.frozen.get(key)
        if frozen is not None:
            return frozen[0], frozen[1]
        sums = self.sums.get(key)
        if sums is None:
            return 0.0, 0.0
        amounts = sums[2::2]
        counts = sums[3::2]
        base = statistics.median(amounts) if self.median else sum(amounts) / self.k
        return base, sum(counts) / self.k

    def holds(self, key: GroupKey) -> bool:
        first = self.first_seen.get(key)
        if first is None or first > self.boundary * self.res - self.history_ms:
            return False
        sums = self.sums.get(key)
        if sums is None:
            return False
        base, base_count = self.baseline_of(key)
        if base <= 0:
            return False
        cur, cur_count = sums[0], sums[1]
        up = cur_count >= self.min_count and cur >= self.factor * base
        down = base_count >= self.min_count and cur <= base / self.factor
        if self.direction == "up":
            return up
        if self.direction == "down":
            return down
        return up or down

    def evaluate(self, key: GroupKey, t: int) -> None:
        frozen = self.frozen.get(key)
        if frozen is not None and frozen[2] <= t:
            del self.frozen[key]  # the windows it held in have left the baseline
        was = key in self.true_keys
        if not was and self.holds(key):
            base, base_count = self.baseline_of(key)
            self.frozen[key] = [base, base_count, NEVER]
        super().evaluate(key, t)
        if was and key not in self.true_keys:
            self.frozen[key][2] = t + self.history_ms

    def value(self, key: GroupKey) -> float:
        sums = self.sums.get(key)
        return sums[0] if sums is not None else 0.0

    def group_count(self) -> int:
        return len(self.first_seen)

    def drop_group(self, key: GroupKey) -> None:
        self.sums.pop(key, None)
        self.first_seen.pop(key, None)
        self.frozen.pop(key, None)

    # -- events ----------------------------------------------------------------------------
    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0 = clock.seq0
        res, buckets, first_seen = self.res, self.buckets, self.first_seen
        counting = self.rule.detect.aggregate == "count"
        amounts = [1] * len(idxs) if counting else vals
        for i, key, amount in zip(idxs, keys, amounts, strict=True):
            now = self.reach(i, clock)
            # No stored bucket changes stage before the next drain (> now), so the boundary
            # can move up to the clock: a late event's bucket is then judged complete.
            self.boundary = max(self.boundary, now // res)
            e = evs[i]
            b = e["ts"] // res
            stage = self.stage(b)
            if stage > self.k:
                continue  # older than every window
            bucket = buckets.get(b)
            if bucket is None:
                bucket = buckets[b] = {}
                self.tick = min(self.tick, self.next_drain())
            part = bucket.get(key)
            if part is None:
                bucket[key] = [amount, 1]
            else:
                part[0] += amount
                part[1] += 1
            if key not in first_seen:
                first_seen[key] = e["ts"]
                if len(first_seen) > self.cap:
                    self.evict(next(iter(first_seen)), now)
            self.note(key, e)
            if stage < 0:
                continue
            # a late event into a complete bucket changes a window now
            self._add(key, stage, amount, 1)
            self.evaluate(key, now)
            if self.lc.out:
                self.collect(seq0 + i)

    # -- time ------------------------------------------------------------------------------
    def next_drain(self) -> int:
        if not self.buckets:
            return NEVER
        return min(self._next_change(b) for b in self.buckets)

    def drain(self, t: int) -> None:
        self.now = max(self.now, t)
        old = {b: self.stage(b) for b in self.buckets}
        self.boundary = t // self.res
        touched: dict[GroupKey, None] = {}
        for b, was in old.items():
            stage = self.stage(b)
            if stage == was:
                continue
            content = self.buckets[b]
            for key, (amount, count) in content.items():
                if was >= 0 and key in self.sums:
                    self._add(key, was, -amount, -count)
                if 0 <= stage <= self.k:
                    self._add(key, stage, amount, count)
                touched[key] = None
            if stage > self.k:
                del self.buckets[b]
        for key in touched:
            sums = self.sums.get(key)
            if sums is not None and not any(sums[1::2]) and not self._stored(key):
                self.sums.pop(key, None)
                self.first_seen.pop(key, None)
                self.frozen.pop(key, None)
                self.group_gone(key, t)
            else:
                self.evaluate(key, t)

    def _stored(self, key: GroupKey) -> bool:
        """The group still has events in a filling or waiting bucket."""
        return any(key in content for b, content in self.buckets.items() if self.stage(b) < 0)

    def evidence_at(self, key: GroupKey, at: int) -> Evidence:
        end = self.boundary * self.res
        base, _ = self.baseline_of(key)
        since, counted = self.counted_span(key)
        return Evidence(
            value=self.value(key),
            window_start=end - self.span,
            window_end=end,
            sample_event_ids=self.sample_ids(key),
            top=self.top_of(key),
            counted_since=since,
            counted_events=counted,
            extra={
                "baseline": round(base, 6),
                "factor": self.factor,
                "direction": self.direction,
            },
        )
