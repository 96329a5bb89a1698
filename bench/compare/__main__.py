"""Signalfire beside the Python stream processors a user would pick instead, on one Kafka topic.

    python -m bench.compare [--events 1000000] [--runs 3] [--only faust,quix] [--json]

1. starts a broker (deploy/kafka/kafka.sh, data under .cache/bench-compare-kafka), generates N
   events in event-time order and loads them into a fresh topic once, then one end-of-data
   event per partition a minute after the last event (it moves every watermark past the data);
2. runs each contender in its own process, from the start of the topic with a fresh consumer
   group, runs interleaved: the aiokafka ceiling, naive Faust, Quix Streams, `signalfire
   worker` with the two rules of bench/compare/rules/ and with the shipped catalogue + those
   two; events/s is the topic's records over the time from the first to the last record
   processed, peak RSS is the process's VmHWM;
3. checks that every contender's breaching keys for the two rules equal the reference answer
   computed from the events (see shared.py); a difference prints a diff and exits 1.
Prints a table (median of the runs) and, with --json, last, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.compare.shared import (
    CONTENDERS,
    RULE_IDS,
    RULES_DIR,
    SHARED,
    Breaches,
    Job,
    Measure,
    disagreements,
    has_ip,
    is_request,
    load_spec,
    read_breaches,
    reference,
    summary,
    table,
)
from bench.e2e.__main__ import create, peak_rss_mb, produce
from signalfire.engine.core import CoreEngine, Route
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules.loader import load_rules
from streams.demo import kafka as demo_kafka
from streams.topology import build_topology

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / ".cache" / "bench-compare-kafka"
MODULES = {
    "ceiling": "bench.compare.contenders.ceiling",
    "faust": "bench.compare.contenders.faust_naive",
    "quix": "bench.compare.contenders.quix",
}
END_AFTER_MS = 60_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Setup:
    brokers: str
    topic: str
    partitions: int
    records: int
    requests: int
    with_ip: int
    oldest_ms: int
    work: Path
    rules: dict[str, Path]  # signalfire contender -> rules directory
    decoded: dict[str, int]  # signalfire contender -> events its engines decode in all
    profile: Path | None  # write a cProfile of each contender process here

    def python(self, group: str, module: str) -> list[str]:
        """The command that runs `module`, under cProfile with --profile."""
        if self.profile is None:
            return [sys.executable, "-m", module]
        out = self.profile / f"{group}.prof"
        return [sys.executable, "-m", "cProfile", "-o", str(out), "-m", module]


# -- loading the topic ------------------------------------------------------------------------
def end_markers(partitions: int, ts: int) -> list[dict[str, Any]]:
    """One event per partition after all others, so that every partition's event time (and
    with it every watermark) passes the data, as live traffic would."""
    return [
        {"event_id": f"end-{p}", "ts": ts, "org_id": "bench_end", "event_type": "end"}
        for p in range(partitions)
    ]


async def send_end_markers(brokers: str, topic: str, markers: Sequence[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all")
    await producer.start()
    try:
        for p, marker in enumerate(markers):
            await producer.send_and_wait(topic, orjson.dumps(marker), key=b"bench_end", partition=p)
    finally:
        await producer.stop()


def chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def decoded_by(rules_dir: Path, events: Sequence[dict[str, Any]]) -> int:
    """Events the worker's engines decode for this rule set: every input event once, plus
    each one again in every repartition family that routes it (what /metrics counts)."""
    topology = build_topology(load_rules([rules_dir]).rules)
    engine = CoreEngine(topology.direct)
    routes = [Route(f.name, f.rules, f.fields) for f in topology.families]
    engine.route_to(routes, 1, 1 << 30, "json")  # counted by their "event_id"
    total = len(events)
    for part in chunks(events, 20_000):
        routed = engine.process([orjson.dumps(e) for e in part]).routed
        total += sum(body.count(b'"event_id"') for fam in routed for body in fam[0])
    return total


async def drop_topics(brokers: str, keep: set[str]) -> None:
    """Delete what a run created (changelogs, repartition, pager and state topics)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t not in keep and not t.startswith("__")]
        if doomed:
            await admin.delete_topics(doomed)
        deadline = time.monotonic() + 60
        while doomed and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            left = set(await admin.list_topics())
            doomed = [t for t in doomed if t in left]
    finally:
        await admin.close()


# -- running one contender --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def timeout_for(records: int) -> float:
    return 300 + records / 300


def run_python(name: str, setup: Setup, group: str) -> tuple[Measure, Breaches | None]:
    work = setup.work / group
    work.mkdir()
    job = Job(
        brokers=setup.brokers,
        topic=setup.topic,
        partitions=setup.partitions,
        group=group,
        records=setup.records,
        requests=setup.requests,
        with_ip=setup.with_ip,
        oldest_ms=setup.oldest_ms,
        spec=load_spec(),
        result=str(work / "result.json"),
        workdir=str(work),
    )
    job.dump(work / "job.json")
    result = Path(job.result)
    with (work / "output.log").open("wb") as out:
        proc = subprocess.Popen(
            [*setup.python(group, MODULES[name]), str(work / "job.json")],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout_for(setup.records)
            while not result.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name} stopped or timed out; see {work / 'output.log'}")
                time.sleep(0.05)
            rss = peak_rss_mb(proc.pid)
        finally:
            stop(proc)
    body = orjson.loads(result.read_bytes())
    shutil.rmtree(work / "quix-state", ignore_errors=True)
    if repeats := {branch: n for branch, n in body.get("repeats", {}).items() if n}:
        log(f"{name} was handed records again (counted once): {repeats}")
    rss = max(rss, float(body.get("rss_mb", 0.0)))
    return Measure(setup.records / body["elapsed_s"], rss), read_breaches(body)


def scrape(port: int) -> str:
    """The two series the bench reads: the worker renders only those (`name[]`), not every
    rule's series, so reading them often near the start and the end costs it little."""
    query = "&".join(f"name[]={name}" for name in SCRAPED)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics?{query}", timeout=5) as r:
        text: str = r.read().decode()
        return text


def total(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


SCRAPED = ("signalfire_events_consumed_total", "signalfire_events_decoded_total")


def run_signalfire(name: str, setup: Setup, group: str) -> tuple[Measure, Breaches | None]:
    pager, port = f"{group}.pager", free_port()
    env = {
        **os.environ,
        "SIGNALFIRE_BROKERS": setup.brokers,
        "SIGNALFIRE_EVENTS_TOPIC": setup.topic,
        "SIGNALFIRE_PAGER_TOPIC": pager,
        "SIGNALFIRE_DLQ_TOPIC": f"{group}.dlq",
        "SIGNALFIRE_GROUP_ID": group,
        "SIGNALFIRE_RULES": str(setup.rules[name]),
    }
    consumed = f'signalfire_events_consumed_total{{topic="{setup.topic}"}}'
    decoded = "signalfire_events_decoded_total"
    first = last = None
    with (setup.work / f"{group}.log").open("wb") as out:
        proc = subprocess.Popen(
            [*setup.python(group, "signalfire.cli.main"), "worker", "--web-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout_for(setup.records)
            while last is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name} stopped or timed out; see {setup.work}/{group}.log")
                try:
                    text = scrape(port)
                except OSError:
                    text = ""
                now = time.perf_counter()
                if first is None and total(text, consumed) > 0:
                    first = now
                done = total(text, decoded)
                if done >= setup.decoded[name]:
                    last = now
                # Often near the start and the end, which bound the measured span; rarely between.
                near_end = done >= 0.9 * setup.decoded[name]
                time.sleep(0.02 if first is None or near_end else 0.25)
            rss = peak_rss_mb(proc.pid)
        finally:
            stop(proc)
    breaches = asyncio.run(read_pages(setup.brokers, pager))
    return Measure(setup.records / (last - (first or last)), rss), breaches


async def read_pages(brokers: str, topic: str) -> Breaches:
    """Keys of every trigger of the two rules on the pager topic (committed pages only)."""
    names = {rule_id: name for name, rule_id in RULE_IDS.items()}
    found: Breaches = {name: set() for name in SHARED}
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        meta = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [TopicPartition(topic, p["partition"]) for p in meta[0].get("partitions", [])]
    reader = AIOKafkaConsumer(
        bootstrap_servers=brokers, isolation_level="read_committed", enable_auto_commit=False
    )
    await reader.start()
    try:
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        ends = await reader.end_offsets(parts)
        idle = 0
        while idle < 3 and [tp for tp in parts if await reader.position(tp) < ends[tp]]:
            batch = await reader.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for r in records:
                    page = orjson.loads(r.value)
                    payload = page["payload"]
                    name = names.get(payload["component"])
                    if name and page["event_action"] == "trigger":
                        (key,) = payload["custom_details"]["group"].values()
                        found[name].add(str(key))
    finally:
        await reader.stop()
    return found


def run_one(name: str, setup: Setup, run: int) -> tuple[Measure, Breaches | None]:
    group = f"cmp-{name.replace('_', '-')}-{run}-{int(time.time())}"
    try:
        if name.startswith("signalfire"):
            return run_signalfire(name, setup, group)
        return run_python(name, setup, group)
    finally:
        asyncio.run(drop_topics(setup.brokers, {setup.topic}))


# -- main ---------------------------------------------------------------------------------------
def prepare(
    args: argparse.Namespace, chosen: Sequence[str], brokers: str
) -> tuple[Setup, Breaches]:
    spec = load_spec()
    topic = f"compare-{int(time.time())}"
    work = Path(tempfile.mkdtemp(prefix="signalfire-compare-"))
    catalogue = work / "catalogue"
    shutil.copytree(ROOT / "rules", catalogue)
    for rule in RULES_DIR.glob("*.yaml"):
        shutil.copy(rule, catalogue / rule.name)
    rules = {"signalfire_two_rules": RULES_DIR, "signalfire_catalogue": catalogue}
    # In event-time order (no late deliveries): see bench/README.md for why.
    config = GeneratorConfig(seed=args.seed, events=args.events, late_fraction=0.0)
    events = list(iter_events(config))
    expected = reference(events, spec)
    events += end_markers(args.partitions, max(e["ts"] for e in events) + END_AFTER_MS)
    decoded = {name: decoded_by(rules[name], events) for name in rules if name in chosen}
    requests = sum(1 for e in events if is_request(e))
    with_ip = sum(1 for e in events if has_ip(e))
    asyncio.run(create(brokers, topic, args.partitions))
    eps = asyncio.run(produce(brokers, topic, events[: args.events]))
    asyncio.run(send_end_markers(brokers, topic, events[args.events :]))
    log(f"loaded {args.events:,} events (+{args.partitions} end markers) at {eps:,.0f}/s")
    oldest = min(e["ts"] for e in events)
    setup = Setup(brokers, topic, args.partitions, len(events), requests, with_ip, oldest, work,
                  rules, decoded, args.profile)  # fmt: skip
    return setup, expected


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated contenders")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--port", type=int, default=19292)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", type=Path, metavar="DIR", help="cProfile every contender here")
    args = ap.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(chosen) - set(CONTENDERS))
    if unknown or not chosen:
        ap.error(f"--only takes some of {', '.join(CONTENDERS)}; unknown: {', '.join(unknown)}")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    brokers = f"127.0.0.1:{args.port}"
    load_before = os.getloadavg()
    demo_kafka("up", args.port, DATA_DIR, quiet=True)
    measured: dict[str, list[Measure]] = {name: [] for name in chosen}
    answers: dict[str, Breaches | None] = {}
    try:
        setup, expected = prepare(args, chosen, brokers)
        for run in range(1, args.runs + 1):
            for name in chosen:
                measure, breaches = run_one(name, setup, run)
                measured[name].append(measure)
                answers[f"{name} (run {run})"] = breaches
                log(f"run {run}/{args.runs} {name}: {measure.eps:,.0f} events/s, "
                    f"peak RSS {measure.rss_mb:.0f} MB")  # fmt: skip
        shutil.rmtree(setup.work, ignore_errors=True)
    finally:
        demo_kafka("wipe", args.port, DATA_DIR, quiet=True)
    load_after = os.getloadavg()
    result = summary(args.events, measured, {k: len(v) for k, v in expected.items()})
    print(
        f"events: {args.events:,} in {args.partitions} partitions, median of {args.runs} run(s); "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} cores)"
    )
    for line in table(result):
        print(line)
    problems = disagreements(answers, expected)
    checked = sorted({name.split(" ")[0] for name, got in answers.items() if got is not None})
    keys = ", ".join(f"{rule} {len(expected[rule])} keys" for rule in SHARED)
    if problems:
        print(f"DISAGREEMENT with the reference ({keys}):")
        for line in problems:
            print("  " + line)
    else:
        print(f"agreement: {', '.join(checked) or 'no detecting contender'} found exactly the "
              f"reference's breaching keys in every run ({keys})")  # fmt: skip
    if args.json:
        print(orjson.dumps(result).decode())
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
