"""Memory and recovery at scale: N distinct active groups of one count-window rule.

    python -m bench.state [--groups 1000000] [--field account_id] [--rules DIR] [--json]

(a) In-process, in a fresh process: the compiled engine's live memory per group (the RSS
    growth of the process) and the bytes of its snapshot per group (the engine's saved state,
    and `streams.state.Snapshot.encode` of it, zlib-compressed).
(b) On a real broker (deploy/kafka/kafka.sh, data under .cache/bench-state-kafka, wiped at the
    end): `signalfire worker` with a short checkpoint interval takes in the N groups, is killed
    (kill -9) as soon as it has read the input, restarted, then stopped cleanly (SIGTERM) and
    restarted again; each restart is timed from process start to /readyz 200 and to caught up
    (every committed record from where each partition resumed consumed, the rule's group
    count back to N), with the steps its log shows.
Prints tables and, with --json, one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.e2e.__main__ import create, peak_rss_mb, start_worker, wait_consumed, wait_ready
from bench.state.workload import (
    FIELDS,
    PHASES,
    caught_up_at,
    consumed,
    end_event,
    group_total,
    http_get,
    iter_events,
    lags,
    log_phases,
    per_group,
    write_rules_dir,
)
from streams.demo import kafka
from streams.produce import produce_events

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
TARGET_BYTES = 100
TARGET_RESTART_S = 10.0
POLL_S = 0.05
QUIET_S = 2.0
BATCH = 2000


# -- (a) in-process ------------------------------------------------------------------------------


def measure(rules: Path, groups: int, field: str) -> dict[str, Any]:
    """One measurement in this process (a child): the engine's state lives in the compiled
    core, so its size is the process's RSS growth, and its saved state is what a snapshot
    writes."""
    import orjson

    from signalfire.engine.core import CoreEngine
    from signalfire.rules import load_rules
    from streams.state import Snapshot, WorkState

    ruleset = load_rules([rules]).rules
    gc.collect()
    before_rss = _rss_bytes_now()
    engine = CoreEngine(ruleset)
    batch: list[bytes] = []
    began = time.perf_counter()
    for event in iter_events(groups, field):
        batch.append(orjson.dumps(event))
        if len(batch) == BATCH:
            engine.process(batch)
            batch = []
    engine.process(batch)
    elapsed = time.perf_counter() - began
    del batch
    gc.collect()
    out: dict[str, Any] = {"groups": sum(engine.group_counts().values()), "process_s": elapsed}
    out["rss_bytes"] = _rss_bytes_now() - before_rss
    began = time.perf_counter()
    saved = engine.save()
    out["save_s"] = time.perf_counter() - began
    began = time.perf_counter()
    engine.save()  # again: what the first one paid for that a worker's next save does not
    out["save_again_s"] = time.perf_counter() - began
    began = time.perf_counter()
    blob = Snapshot(WorkState("bench", groups, 0, None, []), saved, groups, {}).encode()
    out["encode_s"] = time.perf_counter() - began
    began = time.perf_counter()
    CoreEngine(ruleset, engine.settings, Snapshot.decode(blob).engine)
    out["decode_s"] = time.perf_counter() - began
    out["snapshot_bytes"] = len(saved)  # the engine's saved state
    out["zlib_bytes"] = len(blob)  # as written to Kafka
    return out


def child(rules: Path, groups: int, field: str) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.state", "--child", "--rules", str(rules),
            "--groups", str(groups), "--field", field]  # fmt: skip
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- (b) on Kafka --------------------------------------------------------------------------------


def _rss_bytes_now() -> int:
    return round(rss_mb(os.getpid()) * 2**20)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Watch:
    """What /readyz and /metrics showed after a worker's process started."""

    ready_s: float | None = None
    # (seconds since the process started, records consumed so far)
    timeline: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    groups: int = 0
    partitions: set[tuple[str, int]] = dataclasses.field(default_factory=set)


def watch(args: argparse.Namespace, topic: str, started: float, groups: int | None) -> Watch:
    """Poll until the worker is ready, its input lag is 0 on every partition, its rule holds
    `groups` groups (any number if None) and it has consumed nothing for QUIET_S."""
    base = f"http://127.0.0.1:{args.web_port}"
    seen = Watch()
    last, changed = -1.0, time.time()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        now = time.time()
        if seen.ready_s is None and http_get(f"{base}/readyz")[0] == 200:
            seen.ready_s = now - started
        status, text = http_get(f"{base}/metrics")
        if status == 200:
            n = consumed(text)
            seen.timeline.append((now - started, n))
            if n != last:
                last, changed = n, now
            lag = lags(text)
            inputs = [v for (t, _), v in lag.items() if t == topic]
            seen.groups, seen.partitions = group_total(text), set(lag)
            if (
                seen.ready_s is not None
                and len(inputs) == args.partitions
                and not any(inputs)
                and (groups is None or seen.groups == groups)
                and now - changed >= QUIET_S
            ):
                return seen
        time.sleep(POLL_S)
    raise SystemExit(f"worker on :{args.web_port} did not catch up in 600 s")


async def committed(brokers: str, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}


async def count_records(brokers: str, starts: dict[tuple[str, int], int]) -> int:
    """Committed records from each partition's start offset to its end, as a read_committed
    consumer (the worker) sees them: commit markers and aborted records do not count."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=brokers, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t, p in starts]
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > starts[(tp.topic, tp.partition)]}
        if not todo:
            return 0
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, starts[(tp.topic, tp.partition)])
        n = 0
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=500, max_records=10_000)
            n += sum(len(records) for records in batch.values())
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return n
    finally:
        await consumer.stop()


async def load(brokers: str, topic: str, groups: int, field: str, partitions: int) -> float:
    """Produce the groups' events, then one end-of-data event into every input partition."""
    began = time.perf_counter()
    sent = await produce_events(iter_events(groups, field), topic, {"bootstrap_servers": brokers})
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all")
    await producer.start()
    try:
        for p in range(partitions):
            await producer.send_and_wait(topic, json.dumps(end_event(p)).encode(), partition=p)
    finally:
        await producer.stop()
    return sent / (time.perf_counter() - began)


def restart(
    args: argparse.Namespace, topic: str, log: Path, groups: int | None
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start a worker on the stopped one's state and time it until it has consumed every record
    from where each partition resumed (counted afterwards, from the log's restore offsets)."""
    brokers = f"127.0.0.1:{args.port}"
    before = asyncio.run(committed(brokers, f"bench-{topic}"))
    started = time.time()
    worker = start_worker(brokers, topic, args.rules, args.web_port, log)
    seen = watch(args, topic, started, groups)
    phases = log_phases(log.read_text(errors="replace"))
    starts = {tp: phases["starts"].get(tp, before.get(tp, 0)) for tp in seen.partitions}
    records = asyncio.run(count_records(brokers, starts))
    crossed = caught_up_at(seen.timeline, records)
    got: dict[str, Any] = {
        f"{name}_s": None if phases[name] is None else phases[name] - started for name in PHASES
    }
    assert seen.ready_s is not None
    got["ready_s"] = seen.ready_s
    got["caught_up_s"] = None if crossed is None else max(crossed, seen.ready_s)
    got["partitions_restored"] = len(phases["starts"])
    got["replay_records"] = phases["replay_records"]
    got["records_consumed"] = records
    got["groups"] = seen.groups
    got["rss_mb"] = rss_mb(worker.pid)
    got["peak_rss_mb"] = peak_rss_mb(worker.pid)
    return worker, got


def stop(worker: subprocess.Popen[bytes], sig: int) -> float:
    began = time.perf_counter()
    worker.send_signal(sig)
    worker.wait(120)
    return time.perf_counter() - began


def on_kafka(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    brokers = f"127.0.0.1:{args.port}"
    topic = f"bench-state-{int(time.time())}"
    data = CACHE / "bench-state-kafka"
    # start_worker passes this process's environment on
    os.environ["SIGNALFIRE_CHECKPOINT_INTERVAL"] = args.checkpoint_interval
    os.environ["SIGNALFIRE_INSTANCE_ID"] = args.instance_id
    kafka("up", args.port, data, quiet=True)
    worker: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {}
    try:
        asyncio.run(create(brokers, topic, args.partitions))
        worker = start_worker(brokers, topic, args.rules, args.web_port, work / "worker-1.log")
        wait_ready(args.web_port, timeout_s=120)
        out["empty_worker_rss_mb"] = rss_mb(worker.pid)
        began = time.perf_counter()
        out["produce_eps"] = asyncio.run(
            load(brokers, topic, args.groups, args.field, args.partitions)
        )
        wait_consumed(args.web_port, topic, args.groups + args.partitions, timeout_s=600)
        out["input_consumed_s"] = time.perf_counter() - began
        out["groups"], out["partitions"] = args.groups, args.partitions
        out["checkpoint_interval"] = args.checkpoint_interval
        out["instance_id"] = args.instance_id
        # A crash under load: the input is read, the repartition partitions are still merging
        # and the last checkpoint is up to one interval old, so the restart replays.
        worker.kill()
        worker.wait(30)
        groups = args.groups if args.generated else None
        worker, out["kill9"] = restart(args, topic, work / "worker-2.log", groups)
        out["sigterm_stop_s"] = stop(worker, signal.SIGTERM)
        worker, out["sigterm"] = restart(args, topic, work / "worker-3.log", groups)
        stop(worker, signal.SIGTERM)
        worker = None
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(30)
        kafka("wipe", args.port, data, quiet=True)
    return out


# -- report --------------------------------------------------------------------------------------


def summary(
    groups: int, field: str, memory: dict[str, Any], kafka_run: dict[str, Any] | None
) -> dict[str, Any]:
    rss = memory["rss"]
    live = per_group(rss["rss_bytes"], groups)
    out: dict[str, Any] = {
        "groups": groups,
        "field": field,
        "engine_groups": rss["groups"],
        "rss_bytes_per_group": round(live, 1),
        "snapshot_bytes_per_group": round(per_group(rss["snapshot_bytes"], groups), 1),
        "snapshot_zlib_bytes_per_group": round(per_group(rss["zlib_bytes"], groups), 1),
        "snapshot_save_s": round(rss["save_s"], 3),
        "snapshot_save_again_s": round(rss["save_again_s"], 3),
        "snapshot_encode_s": round(rss["encode_s"], 2),
        "snapshot_decode_s": round(rss["decode_s"], 2),
        "memory_target_met": live <= TARGET_BYTES,
    }
    if kafka_run is not None:
        out["kafka"] = _rounded(kafka_run)
        times = [kafka_run[r]["caught_up_s"] for r in ("kill9", "sigterm")]
        out["restart_target_met"] = None not in times and max(times) <= TARGET_RESTART_S
    return out


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(result: dict[str, Any], memory: dict[str, Any]) -> None:
    groups = result["groups"]
    met = "met" if result["memory_target_met"] else "NOT met"
    print(f"(a) engine state, one count rule over 60 s by {result['field']}, "
          f"{groups:,} active groups (engine holds {result['engine_groups']:,})")  # fmt: skip
    print(f"{'measure':<46}{'bytes/group':>12}")
    rows = [
        ("live, RSS growth of a fresh process", result["rss_bytes_per_group"]),
        ("snapshot, the engine's saved state", result["snapshot_bytes_per_group"]),
        ("snapshot as written to Kafka (zlib)", result["snapshot_zlib_bytes_per_group"]),
    ]
    for label, value in rows:
        print(f"{label:<46}{value:>12.1f}")
    print(f"snapshot: the engine's save {result['snapshot_save_s']:.3f} s "
          f"(again {result['snapshot_save_again_s']:.3f} s), compressed "
          f"{result['snapshot_encode_s']:.2f} s, decoded {result['snapshot_decode_s']:.2f} s "
          "for all groups in one engine")  # fmt: skip
    print(f"target <= {TARGET_BYTES} B per active group: {met}")
    k = result.get("kafka")
    if k is None:
        return
    kill9, term = k["kill9"], k["sigterm"]
    print(
        f"\n(b) worker on Kafka, {k['partitions']} input partitions, checkpoint every "
        f"{k['checkpoint_interval']}, "
        f"{'instance id ' + repr(k['instance_id']) if k.get('instance_id') else 'no instance id'}"
        f": {k['groups']:,} groups produced at "
        f"{k['produce_eps']:,.0f}/s, input read {k['input_consumed_s']:.1f} s after the first "
        "send, then kill -9 at once"
    )
    print(f"{'seconds from process start':<42}{'kill -9':>10}{'SIGTERM':>10}")
    for label, key in (
        ("first log line (Python up, Faust starts)", "first_log_s"),
        ("Faust's consumer group joined", "faust_joined_s"),
        ("pipeline started (topics, consumers)", "started_s"),
        ("state restored (last partition)", "restored_s"),
        ("/readyz 200", "ready_s"),
        ("caught up (every record consumed)", "caught_up_s"),
    ):
        print(f"{label:<42}{_s(kill9[key]):>10}{_s(term[key]):>10}")
    for label, key in (
        ("partitions restored from a snapshot", "partitions_restored"),
        ("records replayed (outputs suppressed)", "replay_records"),
        ("records consumed after the restart", "records_consumed"),
        ("groups held once caught up", "groups"),
    ):
        print(f"{label:<42}{kill9[key]:>10,}{term[key]:>10,}")
    for label, key in (("RSS MB once caught up", "rss_mb"), ("peak RSS MB", "peak_rss_mb")):
        print(f"{label:<42}{kill9[key]:>10.0f}{term[key]:>10.0f}")
    print(
        f"worker RSS without groups {k['empty_worker_rss_mb']:.0f} MB; SIGTERM to exit "
        f"(hand-over snapshots) {k['sigterm_stop_s']:.2f} s"
    )
    met = "met" if result["restart_target_met"] else "NOT met"
    print(f"target restart-to-caught-up <= {TARGET_RESTART_S:.0f} s: {met}")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.state", description=__doc__)
    ap.add_argument("--groups", type=int, default=1_000_000)
    ap.add_argument("--field", choices=FIELDS, default="account_id")
    ap.add_argument("--rules", type=Path, help="default: one generated rule under .cache")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--port", type=int, default=19392)
    ap.add_argument("--web-port", type=int, default=16266)
    ap.add_argument("--checkpoint-interval", default="5s")
    ap.add_argument(
        "--instance-id",
        default="bench-state-worker",
        help="the worker's --instance-id (static membership, as deployed); '' for a dynamic member",
    )
    ap.add_argument("--memory-only", action="store_true", help="skip the Kafka part (b)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.generated = args.rules is None
    if args.rules is None:
        args.rules = write_rules_dir(CACHE / "bench-state" / "rules", args.field, args.groups)
    if args.child:
        print(json.dumps(measure(args.rules, args.groups, args.field)))
        return 0
    memory = {"rss": child(args.rules, args.groups, args.field)}
    kafka_run = None
    if not args.memory_only:
        logs = CACHE / "bench-state" / "logs"
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True)
        kafka_run = on_kafka(args, logs)
    result = summary(args.groups, args.field, memory, kafka_run)
    print_report(result, memory)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
