"""Spike state per group: plain, median and seasonal baselines, by tracemalloc.

    python -m bench.spike [--groups 2000]

Every group sends one event in every bucket of its whole history (the worst case: no bucket
is empty), then the engine's traced memory divided by the groups is printed per variant.
Seasonal baselines keep a bucket per window over `baseline_windows` periods, so their cost
grows with period / window: the figure documented in docs/rules.md comes from this run.
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc
from typing import Any

import yaml

from signalfire.engine import Engine, EngineSettings
from signalfire.rules import Rule, parse_rule_text

VARIANTS: dict[str, dict[str, Any]] = {
    "plain 5m x 6 (60 buckets/window)": {"window": "5m", "baseline_windows": 6},
    "median 5m x 6": {"window": "5m", "baseline_windows": 6, "baseline": "median"},
    "seasonal 1h, 1d x 4": {"window": "1h", "seasonality": "1d", "baseline_windows": 4},
    "seasonal 1h, 7d x 2": {"window": "1h", "seasonality": "7d", "baseline_windows": 2},
}


def make_rule(detect: dict[str, Any]) -> Rule:
    body = {
        "id": "bench_spike",
        "title": "bench",
        "severity": "info",
        "group_by": ["org_id"],
        "detect": {"type": "spike", "factor": 3, **detect},
    }
    rules, problems = parse_rule_text(yaml.safe_dump(body), "bench.yaml")
    assert not problems, problems
    return rules[0]


def bytes_per_group(rule: Rule, groups: int) -> float:
    det_probe = Engine([rule]).detectors[0]
    res: int = det_probe.res  # type: ignore[attr-defined]
    history: int = det_probe.history_ms  # type: ignore[attr-defined]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = Engine([rule], EngineSettings(allowed_lateness_ms=0))
    for t in range(0, history + res, res):
        batch = [
            {"event_id": "e", "ts": t, "org_id": f"org{g}", "event_type": "request"}
            for g in range(groups)
        ]
        engine.process(batch)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert engine.detectors[0].group_count() == groups
    return (after - before) / groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000, help="active groups (default 2000)")
    args = parser.parse_args()
    out = {
        name: round(bytes_per_group(make_rule(detect), args.groups))
        for name, detect in VARIANTS.items()
    }
    for name, b in out.items():
        print(f"{name:40} {b:>10,} bytes/group")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
