"""`threshold`: count / sum / avg / min / max of the group's events in a sliding window."""

from __future__ import annotations

from typing import Any

from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import BatchClock
from tests.reference.detectors.windowed import WindowedDetector
from tests.reference.events import Event
from tests.reference.filters import SelectSpec
from tests.reference.lifecycle import GroupKey


class ThresholdDetector(WindowedDetector):
    """Count keeps one int per group; the others keep `[acc, count]` lists."""

    kind = "threshold"

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        d = rule.detect
        if d.aggregate == "count":
            return SelectSpec(rule.where, rule.group_by)
        return SelectSpec(rule.where, rule.group_by, "number", d.field)

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.totals: dict[GroupKey, Any] = {}
        self.aggregate = rule.detect.aggregate
        # max aggregates whose stored value is only an upper bound (cold groups)
        self.stale: set[GroupKey] = set()

    def holds(self, key: GroupKey) -> bool:
        return key in self.totals and self.op(self.value(key), self.threshold)

    def value(self, key: GroupKey) -> Any:
        acc = self.totals.get(key)
        if acc is None:
            # no events in the window: a count or sum of nothing is 0, an extreme or mean none
            return 0 if self.aggregate in ("count", "sum") else None
        if key in self.stale:
            acc[0] = self._extreme(key)
        if self.aggregate == "count":
            return acc
        if self.aggregate == "avg":
            return acc[0] / acc[1]
        return acc[0]

    def group_count(self) -> int:
        return len(self.totals)

    def _extreme(self, key: GroupKey) -> Any:
        """min/max of the group over the live buckets."""
        self.stale.discard(key)
        pick = min if self.aggregate == "min" else max
        return pick(bk[key][0] for bk in self.buckets.values() if key in bk)

    def forget(self, key: GroupKey) -> None:
        super().forget(key)
        self.stale.discard(key)

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
        if self.aggregate == "count":
            self._apply_count(evs, idxs, keys, clock)
        else:
            self._apply_aggregate(evs, idxs, keys, vals, clock)

    def _apply_count(
        self, evs: list[Event], idxs: list[int], keys: list[Any], clock: BatchClock
    ) -> None:
        seq0 = clock.seq0
        res, buckets, totals, true_keys = self.res, self.buckets, self.totals, self.true_keys
        op, thr, lc, note, cap, warm = (
            self.op,
            self.threshold,
            self.lc,
            self.note,
            self.cap,
            self.warm,
        )
        for i, key in zip(idxs, keys, strict=True):
            now = self.reach(i, clock)
            e = evs[i]
            b = e["ts"] // res
            bucket = buckets.get(b)
            if bucket is None and (bucket := self.open_bucket(b, now)) is None:
                continue  # its bucket already left the window
            bucket[key] = bucket.get(key, 0) + 1
            total = totals.get(key, 0) + 1
            totals[key] = total
            if total == 1 and len(totals) > cap:
                self.evict(next(iter(totals)), now)
            if total < warm:
                continue
            # A warm group moves to the back: the group cap evicts cold groups first.
            del totals[key]
            totals[key] = total
            note(key, e)
            if op(total, thr):
                if key in true_keys:
                    continue
                true_keys.add(key)
                lc.cond_true(key, now)
            elif key in true_keys:
                true_keys.discard(key)
                lc.cond_false(key, now)
            else:
                continue
            if lc.out:
                self.collect(seq0 + i)

    def _apply_aggregate(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0 = clock.seq0
        res, buckets, totals, cap = self.res, self.buckets, self.totals, self.cap
        agg, warm, true_keys = self.aggregate, self.warm, self.true_keys
        summing = agg in ("sum", "avg")
        upward = agg == "max"
        for i, key, v in zip(idxs, keys, vals, strict=True):
            now = self.reach(i, clock)
            e = evs[i]
            b = e["ts"] // res
            bucket = buckets.get(b)
            if bucket is None and (bucket := self.open_bucket(b, now)) is None:
                continue  # its bucket already left the window
            part = bucket.get(key)
            if part is None:
                bucket[key] = [v, 1]
            else:
                part[1] += 1
                if summing:
                    part[0] += v
                elif (v > part[0]) if upward else (v < part[0]):
                    part[0] = v
            acc = totals.get(key)
            if acc is None:
                acc = totals[key] = [v, 1]
                if len(totals) > cap:
                    self.evict(next(iter(totals)), now)
            else:
                acc[1] += 1
                if summing:
                    acc[0] += v
                elif (v > acc[0]) if upward else (v < acc[0]):
                    acc[0] = v
            if (acc[0] if agg != "avg" else acc[0] / acc[1]) < warm and key not in true_keys:
                continue
            if upward and key in self.stale:
                acc[0] = self._extreme(key)
            del totals[key]
            totals[key] = acc
            self.note(key, e)
            self.evaluate(key, now)
            if self.lc.out:
                self.collect(seq0 + i)

    def expire(self, content: dict[GroupKey, Any], t: int) -> None:
        totals = self.totals
        if self.aggregate == "count":
            for key, c in content.items():
                total = totals[key] - c
                if total <= 0:
                    del totals[key]
                    self.group_gone(key, t)
                else:
                    totals[key] = total
                    self.evaluate(key, t)
            return
        for key, part in content.items():
            acc = totals[key]
            acc[1] -= part[1]
            if acc[1] <= 0:
                del totals[key]
                self.group_gone(key, t)
                continue
            if self.aggregate in ("sum", "avg"):
                acc[0] -= part[0]
            elif part[0] != acc[0]:
                continue  # the extreme is elsewhere: value unchanged
            elif self.aggregate == "max" and acc[0] < self.warm and key not in self.true_keys:
                # A cold group's max only matters once it could be warm: keep the old max as
                # an upper bound and recompute it then (see `_exact_max`).
                self.stale.add(key)
                continue
            else:
                acc[0] = self._extreme(key)
            self.evaluate(key, t)
