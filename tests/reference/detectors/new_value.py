"""`new_value`: a value of `field` not seen for the group within `lookback`.

Per group `[first_ts, touch_slot, {value: last_ts}]`. Groups are kept in order of their
last activity (re-ordered at most once per slot of lookback/60), so groups idle for longer
than `lookback` are forgotten from the front; a returning group learns again (warmup).
"""

from __future__ import annotations

from typing import Any

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER, BatchClock
from tests.reference.detectors.base import Detector
from tests.reference.events import Event
from tests.reference.filters import SelectSpec
from tests.reference.jsonkey import plain
from tests.reference.lifecycle import GroupKey

PRUNE_AT = 64
KNOWN_SHOWN = 10


class NewValueDetector(Detector):
    kind = "new_value"

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        self.lookback = rule.detect.lookback_ms
        self.warmup = rule.detect.warmup_ms
        self.slot = max(1, self.lookback // 60)
        self.groups: dict[GroupKey, list[Any]] = {}
        self.field_name = ".".join(rule.detect.field or ())

    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        d = rule.detect
        return SelectSpec(rule.where, rule.group_by, "hashable", d.field)

    def group_count(self) -> int:
        return len(self.groups)

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0, lc = clock.seq0, self.lc
        groups, lookback, slot = self.groups, self.lookback, self.slot
        for i, key, v in zip(idxs, keys, vals, strict=True):
            self.reach(i, clock)
            ts = evs[i]["ts"]
            touch = ts // slot
            g = groups.get(key)
            if g is None:
                g = groups[key] = [ts, touch, {}]
                if len(groups) > self.cap:
                    self.stats.cap_evictions += 1
                    del groups[next(iter(groups))]
                self.tick = min(self.tick, (touch + 1) * slot + lookback)
            values = g[2]
            last = values.get(v)
            if last is None or ts - last > lookback:
                if ts >= g[0] + self.warmup:
                    known = [plain(x) for x in values if x != v][:KNOWN_SHOWN]
                    evidence = Evidence(
                        value=plain(v),
                        sample_event_ids=(evs[i]["event_id"],),
                        top=self.event_top(evs[i]),
                        extra={"field": self.field_name, "known": known},
                    )
                    lc.occurred(key, ts, evidence)
                values[v] = ts
                if len(values) > PRUNE_AT:
                    for old in [x for x, t in values.items() if ts - t > lookback]:
                        del values[old]
            elif ts > last:
                values[v] = ts
            if g[1] != touch and touch > g[1]:
                g[1] = touch
                del groups[key]
                groups[key] = g
            if lc.out:
                self.collect(seq0 + i)

    def next_drain(self) -> int:
        if not self.groups:
            return NEVER
        touched: int = self.groups[next(iter(self.groups))][1]
        return (touched + 1) * self.slot + self.lookback

    def drain(self, t: int) -> None:
        groups = self.groups
        while groups:
            key = next(iter(groups))
            if (groups[key][1] + 1) * self.slot + self.lookback > t:
                break
            del groups[key]
