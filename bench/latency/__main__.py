"""Event->page latency (p50 / p99 / p99.9) at 10%, 50% and 90% of the worker's max sustained
rate, with the shipped catalogue, on a real broker.

    python -m bench.latency [--max-rate EPS] [--seconds 30] [--json]

1. starts a broker (deploy/kafka/kafka.sh, data under .cache/bench-latency-kafka, wiped at the
   end);
2. max sustained rate (skipped with --max-rate): `signalfire worker` consumes a backlog of
   generated events (its ceiling), then, on the same topic, live traffic sent at that ceiling
   from this process; the max is the rate the worker consumed while the producer ran beside
   it on the same cores;
3. each level: a fresh topic and worker, live traffic at that share of the max for --seconds
   after a short warm-up, event time = wall time, about --probes-per-second probe events that
   bench.e2e's `match` rule pages on at once; latency = pager record timestamp - probe event
   time, read with read_committed (and, beside it, when this process saw the page).
Prints a table and, with --json, one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.e2e.__main__ import (
    PROBE_RULE,
    _parse_ms,
    create,
    metric,
    produce,
    start_worker,
    wait_consumed,
    wait_ready,
)
from bench.latency.shared import (
    LEVELS,
    TARGET_LEVEL,
    TARGET_P99_MS,
    latency_summary,
    level_row,
    live_events,
    probe_every,
    probes_in,
    summary,
)
from bench.state.workload import histogram_totals, http_get, lags
from signalfire.generate import GeneratorConfig, iter_events
from streams.demo import kafka
from streams.produce import produce_events

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".cache" / "bench-latency-kafka"
POOL_EVENTS = 100_000
TAIL_S = 10.0


def consumed(port: int, topic: str) -> float:
    return metric(port, f'signalfire_events_consumed_total{{topic="{topic}"}}')


def worker_figures(port: int, topic: str) -> dict[str, Any]:
    """The input lag, and the checkpoints so far: each encodes partition state in the worker's
    event loop, which holds back every partition meanwhile."""
    status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        return {}
    count, total = histogram_totals(text, "signalfire_checkpoint_duration_seconds")
    return {
        "lag_at_end": int(sum(v for (t, _), v in lags(text).items() if t == topic)),
        "checkpoints": int(count),
        "checkpoint_s": round(total, 2),
    }


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(30)


async def feed(
    brokers: str, topic: str, pool: list[dict[str, Any]], rate: float, seconds: float
) -> tuple[int, float]:
    """Live traffic without probes for `seconds`; (events sent, seconds it took)."""
    began = time.perf_counter()
    events = itertools.islice(live_events(pool, 1, 2**62), int(rate * seconds))
    sent = await produce_events(events, topic, {"bootstrap_servers": brokers}, rate=rate)
    return sent, time.perf_counter() - began


def calibrate(
    args: argparse.Namespace, rules: Path, work: Path, pool: list[dict[str, Any]]
) -> dict[str, Any]:
    brokers = f"127.0.0.1:{args.port}"
    topic = f"lat-max-{int(time.time())}"
    asyncio.run(create(brokers, topic, args.partitions))
    backlog = list(iter_events(GeneratorConfig(seed=7, events=args.calibrate_events)))
    asyncio.run(produce(brokers, topic, backlog))
    del backlog
    worker = start_worker(brokers, topic, rules, args.web_port, work / "worker-max.log")
    try:
        first, last = wait_consumed(args.web_port, topic, args.calibrate_events, timeout_s=600)
        backlog_eps = args.calibrate_events / (last - first)
        before = consumed(args.web_port, topic)
        sent, took = asyncio.run(feed(brokers, topic, pool, backlog_eps, args.calibrate_seconds))
        live_eps = (consumed(args.web_port, topic) - before) / took
        lag = worker_figures(args.web_port, topic).get("lag_at_end", -1)
    finally:
        stop(worker)
    return {
        "backlog_eps": round(backlog_eps),
        "live_target_eps": round(backlog_eps),
        "live_sent_eps": round(sent / took),
        "live_consumed_eps": round(live_eps),
        "live_lag_at_end": int(lag),
        # The producer shares the cores: when it could not send at the ceiling and the worker
        # kept up, the worker's true max lies higher than what was measured.
        "producer_bound": sent / took < 0.95 * backlog_eps and lag < sent / took,
    }


async def run_level(
    args: argparse.Namespace, topic: str, pool: list[dict[str, Any]], rate: float
) -> dict[str, Any]:
    brokers = f"127.0.0.1:{args.port}"
    every = probe_every(rate, args.probes_per_second)
    warmup = int(rate * args.warmup)
    total = int(rate * (args.warmup + args.seconds))
    expected = probes_in(total, warmup, every)
    reader = AIOKafkaConsumer(
        f"{topic}.pager",
        bootstrap_servers=brokers,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await reader.start()
    c0 = consumed(args.web_port, topic)
    began = time.perf_counter()
    events = itertools.islice(live_events(pool, every, warmup), total)
    sender = asyncio.create_task(
        produce_events(events, topic, {"bootstrap_servers": brokers}, rate=rate)
    )
    record_ms: list[float] = []
    seen_ms: list[float] = []
    other = 0
    measured: dict[str, Any] = {}
    ended = None
    try:
        while True:
            batch = await reader.getmany(timeout_ms=200)
            now_ms = time.time() * 1000
            for records in batch.values():
                for r in records:
                    m = orjson.loads(r.value)
                    if m["payload"]["component"] != "bench_probe":
                        other += 1
                    elif m["event_action"] == "trigger":
                        at = _parse_ms(m["payload"]["timestamp"])
                        record_ms.append(r.timestamp - at)
                        seen_ms.append(now_ms - at)
            if ended is None and sender.done():
                ended = time.perf_counter()
                took = ended - began
                sent = sender.result()
                measured["sent_eps"] = round(sent / took)
                measured["worker_eps"] = round((consumed(args.web_port, topic) - c0) / took)
                measured.update(worker_figures(args.web_port, topic))
            if ended is not None and (
                len(record_ms) >= expected or time.perf_counter() - ended > TAIL_S
            ):
                break
    finally:
        if not sender.done():
            sender.cancel()
        await reader.stop()
    seen = latency_summary(seen_ms)
    return {
        **latency_summary(record_ms),
        "p99_seen_ms": seen["p99_ms"],
        "probes_sent": expected,
        "missing": max(0, expected - len(record_ms)),
        "other_pages": other,
        **measured,
    }


def table(result: dict[str, Any]) -> list[str]:
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:,.0f}"

    lines = [
        f"{'level':>6}{'rate/s':>9}{'sent/s':>9}{'worker/s':>10}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'p999 ms':>9}{'samples':>9}{'p99 seen':>10}{'lag end':>9}{'ckpt s':>8}"
    ]
    for r in result["levels"]:
        lines.append(
            f"{r['level']:>6.0%}{r['rate']:>9,}{cell(r.get('sent_eps')):>9}"
            f"{cell(r.get('worker_eps')):>10}{cell(r['p50_ms']):>8}{cell(r['p99_ms']):>8}"
            f"{cell(r['p999_ms']):>9}{r['samples']:>9,}{cell(r['p99_seen_ms']):>10}"
            f"{cell(r.get('lag_at_end')):>9}{r.get('checkpoint_s', 0):>8.1f}"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    ap.add_argument("--max-rate", type=float, help="skip measuring the max sustained rate")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=3, help="seconds of traffic before probes")
    ap.add_argument("--probes-per-second", type=float, default=100)
    ap.add_argument("--calibrate-events", type=int, default=500_000)
    ap.add_argument("--calibrate-seconds", type=float, default=15)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--port", type=int, default=19492)
    ap.add_argument("--web-port", type=int, default=16366)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="signalfire-bench-latency-"))
    rules = work / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "bench_probe.yaml").write_text(PROBE_RULE)
    pool = list(iter_events(GeneratorConfig(seed=5, events=POOL_EVENTS, scenarios=())))
    brokers = f"127.0.0.1:{args.port}"
    kafka("up", args.port, DATA, quiet=True)
    rows: list[dict[str, Any]] = []
    calibration: dict[str, Any] = {}
    try:
        if args.max_rate:
            max_rate, source = args.max_rate, "given"
        else:
            calibration = calibrate(args, rules, work, pool)
            max_rate, source = calibration["live_consumed_eps"], "measured"
        for n, level in enumerate(LEVELS):
            rate = level * max_rate
            topic = f"lat-{n}-{int(time.time())}"
            asyncio.run(create(brokers, topic, args.partitions))
            worker = start_worker(brokers, topic, rules, args.web_port, work / f"worker-{n}.log")
            try:
                wait_ready(args.web_port, timeout_s=120)
                rows.append(level_row(level, rate, asyncio.run(run_level(args, topic, pool, rate))))
            finally:
                stop(worker)
    finally:
        kafka("wipe", args.port, DATA, quiet=True)
        shutil.rmtree(work, ignore_errors=True)
    result = summary(max_rate, source, calibration, rows)
    if calibration:
        c = calibration
        print(
            f"max sustained rate: {result['max_rate']:,}/s (worker on a backlog "
            f"{c['backlog_eps']:,}/s; live at that rate: sent {c['live_sent_eps']:,}/s, "
            f"consumed {c['live_consumed_eps']:,}/s, input lag at the end {c['live_lag_at_end']:,}"
            f"{', producer-bound' if c['producer_bound'] else ''})"
        )
    else:
        print(f"max sustained rate: {result['max_rate']:,}/s (given)")
    print("\n".join(table(result)))
    met = result["target_met"]
    verdict = "no samples" if met is None else ("met" if met else "NOT met")
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_LEVEL:.0%}: {verdict}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
