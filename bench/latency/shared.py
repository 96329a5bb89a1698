"""The pieces of `python -m bench.latency` that need no Kafka: live traffic with probes,
percentiles and the summary."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

LEVELS = (0.1, 0.5, 0.9)
TARGET_LEVEL = 0.5
TARGET_P99_MS = 250.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest sample with at least a fraction q of all samples at or below
    it (p99 of 100 samples is the 99th smallest, not the largest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, Any]:
    def ms(q: float) -> float | None:
        value = percentile(latencies_ms, q)
        return None if math.isnan(value) else round(value, 1)

    return {
        "samples": len(latencies_ms),
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
        "max_ms": ms(1.0),
    }


def probe_every(rate: float, probes_per_s: float) -> int:
    """Every how many events one is a probe, for about `probes_per_s` probes a second whatever
    the rate: each level gets enough samples for a p99.9, and probe pages stay a small share
    of the worker's output."""
    return max(1, round(rate / probes_per_s))


def probes_in(total: int, warmup: int, every: int) -> int:
    """Probes among events [warmup, total) when event i is a probe if i % every == 0."""
    if total <= warmup:
        return 0
    return (total - 1) // every - (warmup - 1) // every


def live_events(
    pool: Sequence[dict[str, Any]],
    every: int,
    warmup: int,
    clock: Callable[[], float] = time.time,
) -> Iterator[dict[str, Any]]:
    """The pool over and over as live traffic: event time = wall time when the event is made
    (just before it is sent), a fresh event id per pass, and after `warmup` events every
    `every`-th event carries `attrs.probe`, which the probe rule pages on at once."""
    n = 0
    passes = 0
    while True:
        for e in pool:
            out = dict(e)
            out["ts"] = int(clock() * 1000)
            if passes:
                out["event_id"] = f"{e['event_id']}.{passes}"
            if n >= warmup and n % every == 0:
                out["attrs"] = {**(e.get("attrs") or {}), "probe": True}
            n += 1
            yield out
        passes += 1


def level_row(level: float, rate: float, measured: dict[str, Any]) -> dict[str, Any]:
    """One line of the JSON summary: the level, its target rate and what was measured."""
    return {"level": level, "rate": round(rate), **measured}


def summary(
    max_rate: float, source: str, calibration: dict[str, Any], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    at_target = [r for r in rows if r["level"] == TARGET_LEVEL]
    p99 = at_target[0]["p99_ms"] if at_target else None
    return {
        "max_rate": round(max_rate),
        "max_rate_source": source,
        "calibration": calibration,
        "levels": rows,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": None if p99 is None else p99 <= TARGET_P99_MS,
    }
