"""The live demo: a local Kafka, the worker and generated traffic, pages printed as they come.

Everything it starts it stops again on Ctrl-C (or when the traffic is done and the pages have
settled): the producer, the worker process (SIGTERM: a clean hand-over) and the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from alerting.pager import PagerMessage, decode
from signalfire.generate import GeneratorConfig, iter_events
from streams.produce import produce_events

ROOT = Path(__file__).resolve().parents[1]
KAFKA = ROOT / "deploy" / "kafka" / "kafka.sh"
SETTLE_S = 20


@dataclass(frozen=True)
class DemoOptions:
    events: int = 300_000
    seed: int = 7
    eps: float = 5_000
    port: int = 9092
    web_port: int = 6066
    rules: str = "rules"
    group: str = "signalfire-demo"
    show_resolves: bool = False


def kafka(
    command: str, port: int, data_dir: Path = ROOT / "var" / "demo-kafka", quiet: bool = False
) -> None:
    """Run deploy/kafka/kafka.sh (`up`, `down`, `wipe`) for a broker on `port`."""
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(data_dir)}
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([str(KAFKA), command], check=True, env=env, stdout=out)


def start_worker(opts: DemoOptions, brokers: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SIGNALFIRE_BROKERS": brokers, "SIGNALFIRE_GROUP_ID": opts.group}
    args = [sys.executable, "-m", "signalfire.cli.main", "worker", "--rules", opts.rules,
            "--web-port", str(opts.web_port), "--idle-timeout", "3s"]  # fmt: skip
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


async def watch_pages(
    brokers: str, topic: str, show: Callable[[PagerMessage], None], stop: asyncio.Event
) -> int:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=brokers, isolation_level="read_committed",
        auto_offset_reset="latest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    seen = 0
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for r in records:
                    show(decode(r.value))
                    seen += 1
    finally:
        await consumer.stop()
    return seen


async def run_demo(opts: DemoOptions, show: Callable[[PagerMessage], None]) -> int:
    brokers = f"127.0.0.1:{opts.port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log = ROOT / "var" / "demo-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = start_worker(opts, brokers, log)
    print(f"worker pid {worker.pid}: metrics http://127.0.0.1:{opts.web_port}/metrics, "
          f"health /healthz, /readyz; log {log}", flush=True)  # fmt: skip
    watcher = asyncio.create_task(watch_pages(brokers, "pager", show, stop))
    config = GeneratorConfig(seed=opts.seed, events=opts.events, start_ms=int(time.time() * 1000))
    print(f"producing {opts.events:,} events with injected abuse at {opts.eps:,.0f}/s "
          "(press Ctrl-C to stop)\n", flush=True)  # fmt: skip
    producer = asyncio.create_task(
        produce_events(iter_events(config), "usage-events", {"bootstrap_servers": brokers},
                       rate=opts.eps)
    )  # fmt: skip
    try:
        done, _ = await asyncio.wait(
            {producer, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if producer in done and not stop.is_set():
            print(f"\nall events sent; waiting {SETTLE_S}s for the last pages (Ctrl-C to stop)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SETTLE_S)
    finally:
        stop.set()
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        pages = await watcher
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    print(f"\n{pages} page message(s) shown; worker stopped (exit {worker.returncode})")
    return 0
