"""Process-level settings for long runs over many small objects."""

from __future__ import annotations

import gc

# Events are short-lived dicts; engine state is long-lived. CPython's default generation-0
# threshold (700) makes the collector rescan the whole state every few thousand events.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect less often, and keep everything allocated so far out of future collections."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


class StateFreezer:
    """Keeps long-lived state out of the cyclic collector's full scans.

    A worker's state (windows, groups: millions of small containers) lives for minutes to
    months, and every full collection walks all of it: with CPython's default thresholds that
    is a pause proportional to the state, many times a minute. Every `interval_s` this
    collects once (so no garbage is kept for good) and freezes what survives. Frozen objects
    are still freed by reference counting when dropped (state holds no cycles); fetch buffers
    and other short-lived cycles created since are collected as usual.
    """

    def __init__(self, interval_s: float, now: float) -> None:
        self.interval_s = interval_s
        self.due = now + interval_s

    def maybe_freeze(self, now: float) -> bool:
        if now < self.due:
            return False
        self.due = now + self.interval_s
        gc.collect()
        gc.freeze()
        return True
