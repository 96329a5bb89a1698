"""`match`: every event that passes `where` is an occurrence for its group."""

from __future__ import annotations

from typing import Any

from signalfire.engine.alert import Evidence
from tests.reference.clock import BatchClock
from tests.reference.detectors.base import Detector
from tests.reference.events import Event


class MatchDetector(Detector):
    kind = "match"

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        seq0, lc = clock.seq0, self.lc
        for i, key in zip(idxs, keys, strict=True):
            self.reach(i, clock)
            e = evs[i]
            evidence = Evidence(value=1, sample_event_ids=(e["event_id"],), top=self.event_top(e))
            lc.occurred(key, e["ts"], evidence)
            if lc.out:
                self.collect(seq0 + i)

    def group_count(self) -> int:
        return len(self.lc.last_trigger)
