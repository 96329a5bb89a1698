"""`ratio`: events matching `numerator` over the group's events in a sliding window."""

from __future__ import annotations

from typing import Any

from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import MATCH_ALL, Rule
from tests.reference.clock import BatchClock
from tests.reference.detectors.windowed import WindowedDetector
from tests.reference.events import Event
from tests.reference.filters import SelectSpec
from tests.reference.lifecycle import GroupKey


class RatioDetector(WindowedDetector):
    """Per bucket and per group `[numerator, denominator]`; totals the same."""

    kind = "ratio"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.totals: dict[GroupKey, list[int]] = {}
        self.min_count = rule.detect.min_count

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        numerator = rule.detect.numerator or MATCH_ALL
        return SelectSpec(rule.where, rule.group_by, "filter", value_filters=(numerator,))

    def holds(self, key: GroupKey) -> bool:
        acc = self.totals.get(key)
        return (
            acc is not None
            and acc[1] >= self.min_count
            and self.op(acc[0] / acc[1], self.threshold)
        )

    def value(self, key: GroupKey) -> float | None:
        acc = self.totals.get(key)
        return round(acc[0] / acc[1], 6) if acc else None  # no events: no ratio

    def group_count(self) -> int:
        return len(self.totals)

    def drop_group(self, key: GroupKey) -> None:
        self.totals.pop(key, None)

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0 = clock.seq0
        res, buckets, totals, cap, lc = self.res, self.buckets, self.totals, self.cap, self.lc
        for i, key, hit in zip(idxs, keys, vals, strict=True):
            now = self.reach(i, clock)
            e = evs[i]
            b = e["ts"] // res
            bucket = buckets.get(b)
            if bucket is None and (bucket := self.open_bucket(b, now)) is None:
                continue
            part = bucket.get(key)
            if part is None:
                bucket[key] = part = [0, 0]
            acc = totals.pop(key, None)
            if acc is None:
                acc = [0, 0]
                totals[key] = acc
                if len(totals) > cap:
                    self.evict(next(iter(totals)), now)
            else:
                totals[key] = acc
            part[1] += 1
            acc[1] += 1
            if hit:
                part[0] += 1
                acc[0] += 1
                self.note(key, e)
            self.evaluate(key, now)
            if lc.out:
                self.collect(seq0 + i)

    def expire(self, content: dict[GroupKey, Any], t: int) -> None:
        for key, part in content.items():
            acc = self.totals[key]
            acc[0] -= part[0]
            acc[1] -= part[1]
            if acc[1] <= 0:
                del self.totals[key]
                self.group_gone(key, t)
            else:
                self.evaluate(key, t)
