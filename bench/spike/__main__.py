"""Spike state per group in the compiled core: plain, median and seasonal baselines.

    python -m bench.spike [--groups 2000]

Every group sends one event in every bucket of its whole history (the worst case: no bucket
is empty). Each variant runs in a fresh process: the engine's state lives in the compiled core,
so its live size is the process's RSS growth, divided by the groups; the bytes of its saved
state per group are printed beside it. Seasonal baselines keep a bucket per window over
`baseline_windows` periods, so their cost grows with period / window: the figure documented
in docs/rules.md comes from this run.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules import Rule, parse_rule_text

VARIANTS: dict[str, dict[str, Any]] = {
    "plain 5m x 6 (60 buckets/window)": {"window": "5m", "baseline_windows": 6},
    "median 5m x 6": {"window": "5m", "baseline_windows": 6, "baseline": "median"},
    "seasonal 1h, 1d x 4": {"window": "1h", "seasonality": "1d", "baseline_windows": 4},
    "seasonal 1h, 7d x 2": {"window": "1h", "seasonality": "7d", "baseline_windows": 2},
}
BATCH = 2000


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


def history(rule: Rule) -> tuple[int, int]:
    """(bucket ms, ms of history a group needs): the buckets every group fills."""
    d = rule.detect
    if d.seasonality_ms:
        return d.window_ms, d.baseline_windows * d.seasonality_ms + d.window_ms
    return d.bucket_ms, (d.baseline_windows + 1) * d.window_ms


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(rule: Rule, groups: int) -> dict[str, float]:
    """One variant in this process (a child): RSS growth and saved state, per group."""
    res, span = history(rule)
    gc.collect()
    before = rss_bytes()
    engine = CoreEngine([rule], EngineSettings(allowed_lateness_ms=0))
    for t in range(0, span + res, res):
        batch = [
            orjson.dumps({"event_id": "e", "ts": t, "org_id": f"org{g}"}) for g in range(groups)
        ]
        for i in range(0, len(batch), BATCH):
            engine.process(batch[i : i + BATCH])
    del batch
    gc.collect()
    grew = rss_bytes() - before
    assert engine.group_counts() == {rule.id: groups}
    return {"live": grew / groups, "saved": len(engine.save()) / groups}


def child(name: str, groups: int) -> dict[str, float]:
    args = [sys.executable, "-m", "bench.spike", "--child", name, "--groups", str(groups)]
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000, help="active groups (default 2000)")
    parser.add_argument("--child", choices=tuple(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(make_rule(VARIANTS[args.child]), args.groups)))
        return
    out = {name: child(name, args.groups) for name in VARIANTS}
    print(f"{'variant':40}{'live B/group':>14}{'saved B/group':>15}")
    for name, got in out.items():
        print(f"{name:40}{got['live']:>14,.0f}{got['saved']:>15,.0f}")
    print(json.dumps({name: {k: round(v) for k, v in got.items()} for name, got in out.items()}))


if __name__ == "__main__":
    main()
