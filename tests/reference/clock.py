"""Event-time bookkeeping of one batch: the stream clock at every accepted event.

`nows[i]` is the highest event time seen up to and including accepted event i; it never
decreases, so the position at which any event-time instant was first reached is a bisection.
Effects that happen as time passes (window drains, timers) are tagged with that position,
which makes the output independent of how the input was cut into batches.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

NEVER = 2**62


@dataclass(slots=True)
class BatchClock:
    seq0: int
    nows: list[int]
    lateness: int
    final_now: int
    final_wm: int

    def seq_for_now(self, t: int) -> int:
        """Sequence number of the first event whose stream clock reached `t`."""
        return self.seq0 + bisect_left(self.nows, t)

    @property
    def end(self) -> int:
        return self.seq0 + len(self.nows)
