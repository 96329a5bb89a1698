"""What a rule did, counted: one record for the worker's per-step deltas, its per-rule metrics
and the backtest's summary alike. The engine gives one per rule (`CoreEngine.counts()`); two
readings subtracted are what a step did.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class RuleCounts:
    matches: int = 0
    triggers: int = 0
    resolves: int = 0
    suppressed: int = 0  # pages held by throttle
    cap_evictions: int = 0
    late: int = 0
    partials_dropped: int = 0

    def __add__(self, other: RuleCounts) -> RuleCounts:
        return RuleCounts(
            self.matches + other.matches,
            self.triggers + other.triggers,
            self.resolves + other.resolves,
            self.suppressed + other.suppressed,
            self.cap_evictions + other.cap_evictions,
            self.late + other.late,
            self.partials_dropped + other.partials_dropped,
        )

    def __sub__(self, other: RuleCounts) -> RuleCounts:
        return RuleCounts(
            self.matches - other.matches,
            self.triggers - other.triggers,
            self.resolves - other.resolves,
            self.suppressed - other.suppressed,
            self.cap_evictions - other.cap_evictions,
            self.late - other.late,
            self.partials_dropped - other.partials_dropped,
        )

    def __bool__(self) -> bool:
        return self != ZERO

    def items(self) -> tuple[tuple[str, int], ...]:
        """(field name, count) of every field."""
        return tuple((name, getattr(self, name)) for name in FIELDS)


ZERO = RuleCounts()
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RuleCounts))
