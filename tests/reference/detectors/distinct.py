"""`distinct`: number of distinct values of a field per group in a sliding window (exact)."""

from __future__ import annotations

from typing import Any

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import BatchClock
from tests.reference.detectors.windowed import WindowedDetector
from tests.reference.events import Event
from tests.reference.filters import SelectSpec
from tests.reference.jsonkey import plain
from tests.reference.lifecycle import GroupKey

SHOWN_VALUES = 10


class DistinctDetector(WindowedDetector):
    """Per group, each value's newest bucket; a bucket lists the groups it touched."""

    kind = "distinct"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.seen: dict[GroupKey, dict[Any, int]] = {}

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        d = rule.detect
        return SelectSpec(rule.where, rule.group_by, "hashable", d.field)

    def holds(self, key: GroupKey) -> bool:
        values = self.seen.get(key)
        return values is not None and self.op(len(values), self.threshold)

    def value(self, key: GroupKey) -> int:
        return len(self.seen.get(key, ()))

    def group_count(self) -> int:
        return len(self.seen)

    def drop_group(self, key: GroupKey) -> None:
        self.seen.pop(key, None)

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0 = clock.seq0
        res, buckets, seen, cap, lc = self.res, self.buckets, self.seen, self.cap, self.lc
        for i, key, v in zip(idxs, keys, vals, strict=True):
            now = self.reach(i, clock)
            e = evs[i]
            b = e["ts"] // res
            bucket = buckets.get(b)
            if bucket is None and (bucket := self.open_bucket(b, now)) is None:
                continue
            bucket[key] = None
            values = seen.get(key)
            if values is None:
                values = {v: b}
                seen[key] = values
                if len(seen) > cap:
                    self.evict(next(iter(seen)), now)
            elif values.get(v, b) <= b:
                values[v] = b
            if len(values) >= self.warm:
                del seen[key]
                seen[key] = values
                self.note(key, e)
                self.evaluate(key, now)
            elif key in self.true_keys:
                self.evaluate(key, now)
            if lc.out:
                self.collect(seq0 + i)

    def expire(self, content: dict[GroupKey, Any], t: int) -> None:
        limit = t // self.res - self.n
        for key in content:
            values = self.seen.get(key)
            if values is None:
                continue
            for v in [v for v, b in values.items() if b < limit]:
                del values[v]
            if not values:
                del self.seen[key]
                self.group_gone(key, t)
            else:
                self.evaluate(key, t)

    def evidence_at(self, key: GroupKey, at: int) -> Evidence:
        base = super().evidence_at(key, at)
        values = sorted(self.seen.get(key, {}), key=str)[:SHOWN_VALUES]
        field = ".".join(self.rule.detect.field or ())
        top = dict(base.top)
        top.setdefault(field, [(plain(v), 1) for v in values])
        return Evidence(
            value=base.value,
            window_start=base.window_start,
            window_end=base.window_end,
            sample_event_ids=base.sample_event_ids,
            top=top,
            counted_since=base.counted_since,
            counted_events=base.counted_events,
        )
