"""Running `signalfire worker` as a real process against the test broker, and reading topics."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from streams.produce import produce_events
from tests.kafka_broker import KafkaBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
# A rule that pages an org's fourth event within a minute: one page per burst of four.
BUSY_ORG = """\
id: busy_org
title: Busy org
severity: warning
group_by: [org_id]
detect: {type: threshold, window: 1m, op: ">", threshold: 3}
"""


@dataclass
class Topics:
    events: str
    pager: str
    dlq: str
    group: str

    @classmethod
    def fresh(cls) -> Topics:
        tag = uuid.uuid4().hex[:8]
        return cls(f"ev-{tag}", f"pager-{tag}", f"dlq-{tag}", f"sf-{tag}")


class ServedProcess:
    """What the worker and the bridge processes share: the web server, stopping, logs."""

    kind = "process"
    proc: subprocess.Popen[bytes] | None
    log: Path | None
    port: int
    web_host: str

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            url = f"http://{self.web_host}:{self.port}{path}"
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log_text()
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.kind} not ready in {timeout_s}s\n{self.log_text()}")

    def stop(self, timeout_s: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.kind} did not stop\n{self.log_text()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no hand-over, no final snapshot, open transactions left behind."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log else ""


@dataclass
class WorkerProcess(ServedProcess):
    kind = "worker"
    kafka: KafkaBroker
    topics: Topics
    rules: Path
    port: int = field(default_factory=free_port)
    web_host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)  # extra SIGNALFIRE_* settings, last word
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    runs: int = 0

    def start(
        self, log_dir: Path, idle_timeout: str = "2s", checkpoint: str = "2s"
    ) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            SIGNALFIRE_BROKERS=self.kafka.bootstrap,
            SIGNALFIRE_GROUP_ID=self.topics.group,
            SIGNALFIRE_EVENTS_TOPIC=self.topics.events,
            SIGNALFIRE_PAGER_TOPIC=self.topics.pager,
            SIGNALFIRE_DLQ_TOPIC=self.topics.dlq,
            SIGNALFIRE_RULES=str(self.rules),
            SIGNALFIRE_IDLE_TIMEOUT=idle_timeout,
            SIGNALFIRE_RELOAD_INTERVAL="500ms",
            SIGNALFIRE_CHECKPOINT_INTERVAL=checkpoint,
            SIGNALFIRE_WEB_HOST=self.web_host,
        )
        env.update(self.env)
        self.runs += 1
        self.log = log_dir / f"worker-{self.port}-{self.runs}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signalfire.cli.main", "worker", "--web-port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def metric(self, name: str) -> float:
        """Sum of a metric's samples from /metrics (0 when absent)."""
        total = 0.0
        for line in self.get("/metrics")[1].decode().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_metric(self, name: str, at_least: float, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.metric(name) < at_least:
            assert time.monotonic() < deadline, f"{name} < {at_least}\n{self.log_text()}"
            time.sleep(0.2)


def copy_rules(dest: Path) -> Path:
    shutil.copytree(ROOT / "rules", dest)
    return dest


def produce(kafka: KafkaBroker, topic: str, events: Iterable[dict[str, Any]]) -> int:
    options: dict[str, object] = {"bootstrap_servers": kafka.bootstrap}
    return asyncio.run(produce_events(events, topic, options))


async def _read(bootstrap: str, topic: str, quiet_s: float, timeout_s: float) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        isolation_level="read_committed", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - last_new < quiet_s:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
                last_new = time.monotonic()
    finally:
        await consumer.stop()
    return records


def read_topic(
    kafka: KafkaBroker, topic: str, quiet_s: float = 3, timeout_s: float = 60
) -> list[Any]:
    """Every record of the topic, once no new one has come for `quiet_s`."""
    return asyncio.run(_read(kafka.bootstrap, topic, quiet_s, timeout_s))


def wait_for_pages(
    kafka: KafkaBroker, topic: str, count: int, timeout_s: float = 120
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    pages: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        pages = [orjson.loads(r.value) for r in read_topic(kafka, topic, quiet_s=2, timeout_s=10)]
        if len(pages) >= count:
            return pages
    return pages


def page_set(messages: Iterable[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(m["payload"]["component"], m["dedup_key"], m["event_action"]) for m in messages}
