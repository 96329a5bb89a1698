"""End to end on real Kafka: sustained worker throughput beside the raw consumer ceiling,
event->page latency at half the measured rate, and the worker's peak RSS.

    python -m bench.e2e [--events 1000000] [--partitions 4] [--port 19192]

1. starts a broker (deploy/kafka/kafka.sh, data under .cache/bench-kafka), produces N
   generated events into a fresh topic;
2. ceiling: an aiokafka getmany + orjson.loads loop over that topic;
3. worker: `signalfire worker` (full catalogue) consumes the topic from the start; events/s is
   N over the time from its first to its last consumed record (read from /metrics);
4. latency: a second topic is fed at half that rate with event time = wall time, with probe
   events that a `match` rule pages on; latency = pager record timestamp - event ts.
Prints a table and, last, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from signalfire.generate import GeneratorConfig, iter_events
from streams.demo import kafka as demo_kafka
from streams.produce import produce_events

ROOT = Path(__file__).resolve().parents[2]
PROBE_RULE = """\
id: bench_probe
title: Latency probe
severity: info
where: {attrs.probe: true}
group_by: [org_id, event_id]
detect: {type: match}
throttle: 0s
"""


def kafka(command: str, port: int) -> None:
    demo_kafka(command, port, ROOT / ".cache" / "bench-kafka", quiet=True)


async def create(brokers: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def _stamped(events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Events with event time = wall time at the moment each is sent."""
    for e in events:
        e["ts"] = int(time.time() * 1000)
        yield e


async def produce(brokers: str, topic: str, events: Any, rate: float | None = None) -> float:
    """Events/s sent; with `rate`, paced and stamped with the wall clock (live traffic)."""
    began = time.perf_counter()
    source = _stamped(events) if rate else events
    sent = await produce_events(source, topic, {"bootstrap_servers": brokers}, rate=rate)
    return sent / (time.perf_counter() - began)


async def ceiling(brokers: str, topic: str, n: int) -> float:
    c = AIOKafkaConsumer(
        topic,
        bootstrap_servers=brokers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"ceiling-{time.time()}",
    )
    await c.start()
    seen = 0
    began = None
    while seen < n:
        batch = await c.getmany(timeout_ms=1000, max_records=2000)
        if began is None and batch:
            began = time.perf_counter()
        for records in batch.values():
            for r in records:
                orjson.loads(r.value)
            seen += len(records)
    elapsed = time.perf_counter() - (began or time.perf_counter())
    await c.stop()
    return n / elapsed


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_worker(brokers: str, topic: str, rules: Path, port: int, log: Path) -> Any:
    env = {
        **os.environ,
        "SIGNALFIRE_BROKERS": brokers,
        "SIGNALFIRE_EVENTS_TOPIC": topic,
        "SIGNALFIRE_PAGER_TOPIC": f"{topic}.pager",
        "SIGNALFIRE_DLQ_TOPIC": f"{topic}.dlq",
        "SIGNALFIRE_GROUP_ID": f"bench-{topic}",
        "SIGNALFIRE_RULES": str(rules),
        "SIGNALFIRE_IDLE_TIMEOUT": "2s",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "signalfire.cli.main", "worker", "--web-port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"worker not ready in {timeout_s}s")


def wait_consumed(port: int, topic: str, n: int, timeout_s: float) -> tuple[float, float]:
    name = f'signalfire_events_consumed_total{{topic="{topic}"}}'
    first = last = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            seen = metric(port, name)
        except OSError:
            seen = 0
        now = time.perf_counter()
        if seen > 0 and first is None:
            first = now
        if seen >= n:
            last = now
            break
        # Each scrape costs the worker ~10 ms: often only near the start and the end.
        time.sleep(0.02 if first is None or seen >= 0.9 * n else 0.25)
    if first is None or last is None:
        raise SystemExit(f"worker did not consume {n} events in {timeout_s}s")
    return first, last


async def latencies(brokers: str, topic: str, rate: float, seconds: float) -> list[float]:
    config = GeneratorConfig(seed=5, events=int(rate * seconds), scenarios=())
    events = list(iter_events(config))
    for i, e in enumerate(events):
        if i % 200 == 0:
            e.setdefault("attrs", {})["probe"] = True
    reader = AIOKafkaConsumer(
        f"{topic}.pager",
        bootstrap_servers=brokers,
        auto_offset_reset="latest",
        isolation_level="read_committed",
    )
    await reader.start()
    await asyncio.sleep(1)
    sender = asyncio.create_task(produce(brokers, topic, events, rate=rate))
    out: list[float] = []
    end = time.monotonic() + seconds + 10
    while time.monotonic() < end:
        batch = await reader.getmany(timeout_ms=500)
        for records in batch.values():
            for r in records:
                m = orjson.loads(r.value)
                if m["payload"]["component"] == "bench_probe" and m["event_action"] == "trigger":
                    at = m["payload"]["timestamp"]
                    event_ms = _parse_ms(at)
                    out.append((r.timestamp - event_ms) / 1000)
        if sender.done() and time.monotonic() > end - 8:
            break
    await sender
    await reader.stop()
    return out


def _parse_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.e2e")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--port", type=int, default=19192)
    ap.add_argument("--latency-seconds", type=float, default=30)
    args = ap.parse_args()
    brokers = f"127.0.0.1:{args.port}"
    tag = str(int(time.time()))
    topic, live = f"bench-{tag}", f"bench-live-{tag}"
    work = Path(tempfile.mkdtemp(prefix="signalfire-bench-"))
    rules = work / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "bench_probe.yaml").write_text(PROBE_RULE)
    kafka("up", args.port)
    worker = None
    try:
        asyncio.run(create(brokers, topic, args.partitions))
        asyncio.run(create(brokers, live, args.partitions))
        events = list(iter_events(GeneratorConfig(seed=7, events=args.events)))
        produce_eps = asyncio.run(produce(brokers, topic, events))
        del events
        ceiling_eps = statistics.median(
            asyncio.run(ceiling(brokers, topic, args.events)) for _ in range(3)
        )
        port = 16166
        worker = start_worker(brokers, topic, rules, port, work / "worker.log")
        first, last = wait_consumed(port, topic, args.events, timeout_s=900)
        worker_eps = args.events / (last - first)
        rss = peak_rss_mb(worker.pid)
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        worker = start_worker(brokers, live, rules, port + 1, work / "worker-live.log")
        wait_ready(port + 1, timeout_s=120)
        lat = asyncio.run(latencies(brokers, live, worker_eps / 2, args.latency_seconds))
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        kafka("wipe", args.port)
    print(
        f"events: {args.events:,} in {args.partitions} partitions "
        f"(produced at {produce_eps:,.0f}/s)"
    )
    print(f"{'pipeline':<44}{'events/s':>12}{'vs ceiling':>12}")
    print(f"{'aiokafka getmany + orjson (ceiling)':<44}{ceiling_eps:>12,.0f}{1:>12.0%}")
    ratio = worker_eps / ceiling_eps
    print(f"{'signalfire worker, full catalogue':<44}{worker_eps:>12,.0f}{ratio:>12.0%}")
    print(f"worker peak RSS: {rss:.0f} MB")
    print(
        f"event->page latency at {worker_eps / 2:,.0f} events/s ({len(lat)} probe pages): "
        f"p50 {pct(lat, 0.5) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms"
    )
    print(
        json.dumps(
            {
                "events": args.events,
                "ceiling_eps": round(ceiling_eps),
                "worker_eps": round(worker_eps),
                "worker_rss_mb": round(rss),
                "latency_rate_eps": round(worker_eps / 2),
                "probe_pages": len(lat),
                "p50_ms": round(pct(lat, 0.5) * 1000) if lat else None,
                "p99_ms": round(pct(lat, 0.99) * 1000) if lat else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
