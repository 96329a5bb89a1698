"""Sliding event-time windows kept as buckets shared by all groups of a rule.

A window of `n` buckets of `res` ms keeps buckets [now//res - n, now//res]: a value may
include events up to one bucket older than the window, never fewer. Bucket b leaves the
window when the stream clock reaches (b + n + 1) * res; the groups it held are re-evaluated
then, so conditions clear (and resolve) as time passes, without the group's next event.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER
from tests.reference.detectors.base import Detector
from tests.reference.lifecycle import GroupKey

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class WindowedDetector(Detector):
    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        super().__init__(rule, settings)
        d = rule.detect
        self.res = d.bucket_ms
        self.n = math.ceil(d.window_ms / d.bucket_ms)
        self.buckets: dict[int, dict[GroupKey, Any]] = {}
        self.true_keys: set[GroupKey] = set()
        self.op = OPS[d.op]
        self.threshold = d.threshold
        # Evidence (sample ids, top values) is collected only while a group is warm: for an
        # upward threshold, once it reached half of it. Cold groups cost nothing extra.
        self.warm = d.threshold / 2 if d.op in (">", ">=") and d.threshold > 0 else -math.inf

    # -- subclass hooks ----------------------------------------------------------------------
    def holds(self, key: GroupKey) -> bool:
        raise NotImplementedError

    def value(self, key: GroupKey) -> Any:
        raise NotImplementedError

    def expire(self, content: dict[GroupKey, Any], t: int) -> None:
        """Remove one drained bucket's contributions and re-evaluate its groups."""
        raise NotImplementedError

    def drop_group(self, key: GroupKey) -> None:
        """Remove every trace of the group from the detector's own totals."""
        raise NotImplementedError

    # -- shared machinery --------------------------------------------------------------------
    def open_bucket(self, b: int, now: int) -> dict[GroupKey, Any] | None:
        """The bucket for index b, created if needed; None if b already left the window."""
        drain_at = (b + self.n + 1) * self.res
        if drain_at <= now:
            return None
        bucket: dict[GroupKey, Any] = {}
        self.buckets[b] = bucket
        self.tick = min(self.tick, drain_at)
        return bucket

    def next_drain(self) -> int:
        if not self.buckets:
            return NEVER
        return (min(self.buckets) + self.n + 1) * self.res

    def drain(self, t: int) -> None:
        limit = t // self.res - self.n
        for b in sorted(b for b in self.buckets if b < limit):
            self.expire(self.buckets.pop(b), t)

    def evaluate(self, key: GroupKey, t: int) -> None:
        if self.holds(key):
            if key not in self.true_keys:
                self.true_keys.add(key)
                self.lc.cond_true(key, t)
        elif key in self.true_keys:
            self.true_keys.discard(key)
            self.lc.cond_false(key, t)

    def group_gone(self, key: GroupKey, t: int) -> None:
        self.forget(key)
        if key in self.true_keys:
            self.true_keys.discard(key)
            self.lc.cond_false(key, t)

    def evict(self, key: GroupKey, t: int) -> None:
        """Drop the least recently active group when the rule's group cap is reached."""
        for bucket in self.buckets.values():
            bucket.pop(key, None)
        self.drop_group(key)
        self.stats.cap_evictions += 1
        self.group_gone(key, t)

    def evidence_at(self, key: GroupKey, at: int) -> Evidence:
        since, counted = self.counted_span(key)
        return Evidence(
            value=self.value(key),
            window_start=at - self.rule.detect.window_ms,
            window_end=at,
            sample_event_ids=self.sample_ids(key),
            top=self.top_of(key),
            counted_since=since,
            counted_events=counted,
        )
