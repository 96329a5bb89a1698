"""Engine throughput: the shipped catalogue over >= 1M generated events, beside the ceiling.

    python -m bench.engine [--events 1000000] [--rules rules] [--batch 2000] [--runs 3]
    python -m bench.engine --per-rule [--events 300000] [--cpu] [--threads 1]

Each measurement runs in a fresh process over the same JSONL lines held in memory:
`ceiling` is a plain `orjson.loads` loop; `core` hands the same lines in batches to the
compiled core, which decodes and checks each event and runs the whole catalogue. Prints
events/s (median of runs), the ratio to the ceiling and peak RSS of each process.
`--per-rule` prints what each rule adds to the compiled core's cost per event (the core with
that rule alone, minus decoding alone).
`--threads` sets the compiled core's threads (`EngineSettings.threads`; its default otherwise).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from signalfire.engine import EngineSettings

CACHE = Path(".cache/bench")


def ensure_events(n: int, seed: int) -> Path:
    path = CACHE / f"events-{n}-{seed}.jsonl"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        from signalfire.generate import GeneratorConfig, iter_events, write_jsonl

        tmp = path.with_suffix(".tmp")
        write_jsonl(iter_events(GeneratorConfig(seed=seed, events=n)), str(tmp))
        tmp.rename(path)
    return path


def core_settings(threads: int | None) -> EngineSettings:
    from signalfire.engine import EngineSettings

    return EngineSettings() if threads is None else EngineSettings(threads=threads)


def measure(
    mode: str, path: Path, rules: str, batch: int, threads: int | None = None
) -> dict[str, float]:
    """One measurement in this process (called in a child)."""
    import gc
    import resource

    import orjson

    from signalfire.engine.core import CoreEngine
    from signalfire.gc_tuning import tune_gc
    from signalfire.rules import load_rules

    lines = path.read_bytes().splitlines()
    tune_gc()
    gc.collect()
    base_mb = _rss_now_mb()
    # Loading and compiling the rules happens once per process, not per event: it is timed
    # apart, as the ceiling's loop does not time importing orjson either.
    start = time.perf_counter()
    core = (
        None if mode == "ceiling" else CoreEngine(load_rules([rules]).rules, core_settings(threads))
    )
    setup = time.perf_counter() - start
    start = time.perf_counter()
    if core is None:
        loads = orjson.loads
        for line in lines:
            loads(line)
        alerts = 0
    else:
        alerts = 0
        for i in range(0, len(lines), batch):
            alerts += len(core.process(lines[i : i + batch]).alerts)
        alerts += len(core.flush())
    elapsed = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "eps": len(lines) / elapsed,
        "setup_s": setup,
        "rss_mb": rss_mb,
        # peak RSS includes reading the input; the state the run kept is what is left after it
        "grew_mb": max(0.0, _rss_now_mb() - base_mb),
        "alerts": alerts,
    }


def per_rule(path: Path, rules: str, batch: int, cpu: bool, threads: int | None = None) -> None:
    """Microseconds per event each rule adds to decoding alone, in the compiled core."""
    from signalfire.engine.core import CoreEngine
    from signalfire.rules import Rule, load_rules

    lines = path.read_bytes().splitlines()
    # This process's CPU time counts only what it ran: other jobs on a shared machine take
    # their share of the wall clock, much less of this.
    clock = time.process_time if cpu else time.perf_counter

    def seconds(chosen: list[Rule]) -> float:
        core = CoreEngine(chosen, core_settings(threads))
        start = clock()
        for i in range(0, len(lines), batch):
            core.process(lines[i : i + batch])
        return clock() - start

    # Fastest of three, the rule's runs beside their own baseline: drift on a shared machine
    # hits both.
    base = min(seconds([]) for _ in range(3))
    print(f"decoding and checks alone: {len(lines) / base:,.0f} events/s")
    catalogue = list(load_rules([rules]).rules)
    whole = min(seconds(catalogue) for _ in range(3))
    print(
        f"the whole catalogue: {len(lines) / whole:,.0f} events/s, "
        f"{(whole - base) / len(lines) * 1e6:.2f} us/event after decoding"
    )
    print(f"{'rule':<32}{'type':<11}{'us/event':>9}")
    for rule in catalogue:
        runs = [(seconds([rule]), seconds([])) for _ in range(3)]
        added = (min(r for r, _ in runs) - min(b for _, b in runs)) / len(lines) * 1e6
        print(f"{rule.id:<32}{rule.detect.type:<11}{added:>9.2f}")


def _rss_now_mb() -> float:
    """Resident set size now (the input lines are in memory before timing starts)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(
    mode: str, path: Path, rules: str, batch: int, threads: int | None = None
) -> dict[str, float]:
    extra = [] if threads is None else ["--threads", str(threads)]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.engine",
            "--child",
            mode,
            "--path",
            str(path),
            "--rules",
            rules,
            "--batch",
            str(batch),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.engine")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rules", default="rules")
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", choices=("ceiling", "core"))
    p.add_argument("--path")
    p.add_argument("--per-rule", action="store_true", help="each rule's cost in the core")
    p.add_argument(
        "--cpu", action="store_true", help="--per-rule on this process's CPU time, not wall time"
    )
    p.add_argument("--threads", type=int, help="the compiled core's threads (default: its own)")
    args = p.parse_args()
    if args.per_rule:
        per_rule(
            ensure_events(args.events, args.seed), args.rules, args.batch, args.cpu, args.threads
        )
        return 0
    if args.child:
        print(
            json.dumps(measure(args.child, Path(args.path), args.rules, args.batch, args.threads))
        )
        return 0
    path = ensure_events(args.events, args.seed)
    results: dict[str, list[dict[str, float]]] = {"ceiling": [], "core": []}
    for _ in range(args.runs):
        for mode, runs in results.items():  # interleaved: drift on a shared machine hits both
            runs.append(child(mode, path, args.rules, args.batch, args.threads))
    eps = {m: statistics.median(r["eps"] for r in runs) for m, runs in results.items()}
    rss = {m: max(r["rss_mb"] for r in runs) for m, runs in results.items()}
    grew = {m: max(r["grew_mb"] for r in runs) for m, runs in results.items()}
    print(
        f"events: {args.events:,} (seed {args.seed}), rules: {args.rules}, batch {args.batch}, "
        f"core threads {core_settings(args.threads).threads}, median of {args.runs} runs"
    )
    print(f"{'pipeline':<34}{'events/s':>12}{'vs ceiling':>12}{'peak RSS MB':>13}{'growth MB':>11}")
    for mode, label in (
        ("ceiling", "orjson.loads loop (ceiling)"),
        ("core", "compiled core, full catalogue"),
    ):
        print(
            f"{label:<34}{eps[mode]:>12,.0f}{eps[mode] / eps['ceiling']:>11.0%}{rss[mode]:>13.0f}"
            f"{grew[mode]:>11.0f}"
        )
    print(f"alerts per run: {int(results['core'][0]['alerts'])}")
    setup_ms = statistics.median(r["setup_s"] for r in results["core"]) * 1000
    print(f"loading and compiling the rules, apart (median): {setup_ms:,.0f} ms")
    print(
        json.dumps(
            {
                "events": args.events,
                "ceiling_eps": round(eps["ceiling"]),
                "core_eps": round(eps["core"]),
                "core_rss_mb": round(rss["core"]),
                "core_growth_mb": round(grew["core"]),
                "ceiling_rss_mb": round(rss["ceiling"]),
                "core_setup_ms": round(setup_ms),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
