"""The live demo: a local Kafka, the worker and generated traffic, pages printed as they come,
and the loop after a page: the bridge stores every page and the console serves them.

Everything it starts it stops again on Ctrl-C (or, unless it holds for the console, when the
traffic is done and the pages have settled): the producer, the worker, bridge and console
processes (SIGTERM: a clean hand-over) and the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from alerting.pager import PagerMessage, decode
from signalfire.generate import GeneratorConfig, iter_events
from streams.produce import produce_events

ROOT = Path(__file__).resolve().parents[1]
KAFKA = ROOT / "deploy" / "kafka" / "kafka.sh"
BRIDGE_CONFIG = ROOT / "deploy" / "demo" / "bridge.yaml"
CONSOLE_CONFIG = ROOT / "deploy" / "demo" / "console.yaml"
STORE = ROOT / "var" / "demo-pages.db"  # where both configs above point
DEMO_LOGIN = ("demo", "signalfire-demo")  # deploy/demo/console.yaml holds its hash
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
    console_port: int | None = 8080  # None: no bridge, store or console
    bridge_port: int = 6068
    hold: bool = False  # keep everything up after the traffic, until Ctrl-C


def kafka(
    command: str, port: int, data_dir: Path = ROOT / "var" / "demo-kafka", quiet: bool = False
) -> None:
    """Run deploy/kafka/kafka.sh (`up`, `down`, `wipe`) for a broker on `port`."""
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_DATA_DIR": str(data_dir)}
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([str(KAFKA), command], check=True, env=env, stdout=out)


def start(command: list[str], brokers: str, group: str, log: Path) -> subprocess.Popen[bytes]:
    """A `signalfire` subcommand as a process of its own, its output in `log`."""
    env = {**os.environ, "SIGNALFIRE_BROKERS": brokers, "SIGNALFIRE_GROUP_ID": group}
    args = [sys.executable, "-m", "signalfire.cli.main", *command]
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


async def start_loop(
    opts: DemoOptions, brokers: str, logs: Path
) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """The bridge (every page into the demo's store) and the console on that store."""
    if opts.console_port is None:
        return []
    STORE.parent.mkdir(parents=True, exist_ok=True)
    STORE.unlink(missing_ok=True)  # this run's pages only
    bridge = start(
        ["bridge", "--config", str(BRIDGE_CONFIG), "--web-port", str(opts.bridge_port),
         "--bridge-group-id", f"{opts.group}-bridge"],
        brokers, opts.group, logs / "demo-bridge.log",
    )  # fmt: skip
    console = start(
        ["console", "serve", "--config", str(CONSOLE_CONFIG),
         "--console-listen", f"127.0.0.1:{opts.console_port}"],
        brokers, opts.group, logs / "demo-console.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{opts.console_port}/"
    if not await asyncio.to_thread(served, url + "healthz", console):
        print(f"the console did not start: see {logs / 'demo-console.log'}", flush=True)
    else:
        name, password = DEMO_LOGIN
        print(f"console {url} (log in as {name} / {password}): pages stored by the bridge "
              f"in {STORE}", flush=True)  # fmt: skip
    return [("bridge", bridge), ("console", console)]


def served(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> bool:
    """Whether `url` answers before `proc` exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            time.sleep(0.2)
    return False


def stop_process(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


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
    worker = start(
        ["worker", "--rules", opts.rules, "--web-port", str(opts.web_port), "--idle-timeout", "3s"],
        brokers, opts.group, log,
    )  # fmt: skip
    print(f"worker pid {worker.pid}: metrics http://127.0.0.1:{opts.web_port}/metrics, "
          f"health /healthz, /readyz; log {log}", flush=True)  # fmt: skip
    loop_processes = await start_loop(opts, brokers, log.parent)
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
            if opts.hold and loop_processes:
                print(f"\nall events sent; the console stays up at "
                      f"http://127.0.0.1:{opts.console_port}/ until Ctrl-C")  # fmt: skip
                await stop.wait()
            else:
                print(f"\nall events sent; waiting {SETTLE_S}s for the last pages "
                      "(Ctrl-C to stop)")  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SETTLE_S)
    finally:
        stop.set()
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        pages = await watcher
        stop_process(worker)
        stopped = [(name, stop_process(proc)) for name, proc in loop_processes]
    print(f"\n{pages} page message(s) shown; worker stopped (exit {worker.returncode})")
    for name, code in stopped:
        print(f"{name} stopped (exit {code})")
    return 0
