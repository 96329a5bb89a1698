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
