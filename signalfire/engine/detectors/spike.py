"""`spike`: the current window's count or sum against the mean of the windows before it.

Buckets pass through two stages: inside the current window (the last n+1 buckets) and then
inside the baseline (the k*n buckets before it). Each stage keeps per-group totals, so a
drain moves a bucket's contributions from `cur` to `base`, and later out of `base`.
"""

from __future__ import annotations

from typing import Any

from alerting.model import Evidence, GroupKey
from signalfire.engine.clock import BatchClock
from signalfire.engine.detectors.windowed import WindowedDetector
from signalfire.engine.settings import EngineSettings
from signalfire.filters.compile import Event, SelectSpec
from signalfire.rules.model import Rule


class SpikeDetector(WindowedDetector):
    kind = "spike"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        d = rule.detect
        self.k = d.baseline_windows
        self.factor = d.factor
        self.min_count = d.min_count
        self.direction = d.direction
        self.history_ms = (self.k + 1) * d.window_ms
        self.base_buckets: dict[int, dict[GroupKey, list[float]]] = {}
        self.cur: dict[GroupKey, list[float]] = {}
        self.base: dict[GroupKey, list[float]] = {}
        self.first_seen: dict[GroupKey, int] = {}

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        d = rule.detect
        if d.aggregate == "sum":
            return SelectSpec(rule.where, rule.group_by, "number", d.field)
        return SelectSpec(rule.where, rule.group_by)

    # -- condition -------------------------------------------------------------------------
    def holds(self, key: GroupKey) -> bool:
        first = self.first_seen.get(key)
        if first is None or first > self.now - self.history_ms:
            return False
        cur = self.cur.get(key) or (0.0, 0)
        base = self.base.get(key) or (0.0, 0)
        mean = base[0] / self.k
        if mean <= 0:
            return False
        up = cur[1] >= self.min_count and cur[0] >= self.factor * mean
        down = base[1] / self.k >= self.min_count and cur[0] <= mean / self.factor
        if self.direction == "up":
            return up
        if self.direction == "down":
            return down
        return up or down

    def value(self, key: GroupKey) -> float:
        return (self.cur.get(key) or (0.0, 0))[0]

    def baseline(self, key: GroupKey) -> float:
        return round((self.base.get(key) or (0.0, 0))[0] / self.k, 6)

    def group_count(self) -> int:
        return len(self.first_seen)

    def drop_group(self, key: GroupKey) -> None:
        for bucket in self.base_buckets.values():
            bucket.pop(key, None)
        self.cur.pop(key, None)
        self.base.pop(key, None)
        self.first_seen.pop(key, None)

    # -- events ----------------------------------------------------------------------------
    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        nows, seq0, lateness = clock.nows, clock.seq0, clock.lateness
        res, buckets, cur, first_seen = self.res, self.buckets, self.cur, self.first_seen
        counting = self.rule.detect.aggregate == "count"
        amounts = [1] * len(idxs) if counting else vals
        for i, key, amount in zip(idxs, keys, amounts, strict=True):
            now = nows[i]
            if now >= self.tick:
                self.catch_up(now, now - lateness, clock)
            self.now = max(self.now, now)
            e = evs[i]
            b = e["ts"] // res
            bucket = buckets.get(b)
            if bucket is None and (bucket := self.open_bucket(b, now)) is None:
                continue
            part = bucket.get(key)
            if part is None:
                bucket[key] = [amount, 1]
            else:
                part[0] += amount
                part[1] += 1
            acc = cur.get(key)
            if acc is None:
                cur[key] = [amount, 1]
            else:
                acc[0] += amount
                acc[1] += 1
            if key not in first_seen:
                first_seen[key] = e["ts"]
                if len(first_seen) > self.cap:
                    self.evict(next(iter(first_seen)), now)
            self.note(key, e)
            self.evaluate(key, now)
            if self.lc.out:
                self.collect(seq0 + i)

    # -- time ------------------------------------------------------------------------------
    def next_drain(self) -> int:
        soonest = super().next_drain()
        if self.base_buckets:
            soonest = min(soonest, (min(self.base_buckets) + (self.k + 1) * self.n + 1) * self.res)
        return soonest

    def drain(self, t: int) -> None:
        self.now = max(self.now, t)
        limit_cur = t // self.res - self.n
        limit_base = limit_cur - self.k * self.n
        touched: dict[GroupKey, None] = {}
        for b in sorted(b for b in self.buckets if b < limit_cur):
            content = self.buckets.pop(b)
            _move(content, self.cur, self.base, touched)
            if b >= limit_base:
                self.base_buckets[b] = content
        for b in sorted(b for b in self.base_buckets if b < limit_base):
            _move(self.base_buckets.pop(b), self.base, None, touched)
        for key in touched:
            if key not in self.cur and key not in self.base:
                self.first_seen.pop(key, None)
                self.group_gone(key, t)
            else:
                self.evaluate(key, t)

    def snapshot(self, key: GroupKey, at: int) -> Evidence:
        base = super().snapshot(key, at)
        return Evidence(
            value=base.value,
            window_start=base.window_start,
            window_end=base.window_end,
            sample_event_ids=base.sample_event_ids,
            top=base.top,
            extra={
                "baseline": self.baseline(key),
                "factor": self.factor,
                "direction": self.direction,
            },
        )


def _move(
    content: dict[GroupKey, list[float]],
    source: dict[GroupKey, list[float]],
    target: dict[GroupKey, list[float]] | None,
    touched: dict[GroupKey, None],
) -> None:
    for key, (amount, count) in content.items():
        acc = source[key]
        acc[0] -= amount
        acc[1] -= count
        if acc[1] <= 0:
            del source[key]
        if target is not None:
            into = target.get(key)
            if into is None:
                target[key] = [amount, count]
            else:
                into[0] += amount
                into[1] += count
        touched[key] = None
