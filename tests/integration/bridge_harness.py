"""Running `signalfire bridge` as a real process, and a scripted HTTP sink for it to call."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer

from alerting.pager import PagerMessage, encode, record_key
from alerting.sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.integration.worker_harness import ServedProcess
from tests.kafka_broker import KafkaBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
STALL = "stall"  # a scripted answer: hold the request open past the client's timeout


@dataclass
class BridgeProcess(ServedProcess):
    kind = "bridge"
    kafka: KafkaBroker
    config: Path
    pager_topic: str
    dlq_topic: str
    group: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    web_host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    runs: int = 0

    def start(self, log_dir: Path) -> BridgeProcess:
        env = dict(os.environ)
        env.update(
            SIGNALFIRE_BROKERS=self.kafka.bootstrap,
            SIGNALFIRE_PAGER_TOPIC=self.pager_topic,
            SIGNALFIRE_PAGER_DLQ_TOPIC=self.dlq_topic,
            SIGNALFIRE_BRIDGE_GROUP_ID=self.group,
            SIGNALFIRE_BRIDGE_CONFIG=str(self.config),
            SIGNALFIRE_WEB_PORT=str(self.port),
        )
        env.update(self.env)
        self.runs += 1
        self.log = log_dir / f"bridge-{self.port}-{self.runs}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signalfire.cli.main", "bridge"],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include `labels` (0 when absent)."""
        total = 0.0
        want = [f'{k}="{v}"' for k, v in labels.items()]
        for line in self.get("/metrics")[1].decode().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, value = line.rsplit(" ", 1)
            if series.split("{")[0] == name and all(w in series for w in want):
                total += float(value)
        return total

    def wait_metric(self, name: str, at_least: float, timeout_s: float = 60, **labels: str) -> None:
        deadline = time.monotonic() + timeout_s
        while self.metric(name, **labels) < at_least:
            assert time.monotonic() < deadline, f"{name} < {at_least}\n{self.log_text()}"
            time.sleep(0.2)


@dataclass
class Call:
    path: str
    key: str  # dedup_key of the message (Alertmanager posts: of the first alert)
    action: str
    answer: int | str
    signed: bool | None  # None: no signature header
    body: Any


class HookServer:
    """An HTTP sink on loopback, in its own thread, answering each request from a script.

    `script[dedup_key]` lists the answers for that key's successive requests (a status, or
    STALL); when it runs out, or for unscripted keys, the answer is `default`. With
    `fail_first`, the first request for each key not in the script gets that status.
    """

    def __init__(
        self,
        secret: bytes | None = None,
        default: int = 202,
        stall_s: float = 5,
        fail_first: int | None = None,
    ) -> None:
        self.port = free_port()
        self.secret = secret
        self.default = default
        self.stall_s = stall_s
        self.script: dict[str, list[int | str]] = defaultdict(list)
        self.calls: list[Call] = []
        self.fail_first = fail_first
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HookServer:
        self._thread.start()
        assert self._ready.wait(10), "hook server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        data = orjson.loads(body)
        first = data[0] if isinstance(data, list) else data
        if "labels" in first:  # an Alertmanager alert
            key, action = first["labels"].get("dedup_key", ""), "alertmanager"
        else:
            key, action = first.get("dedup_key", ""), first.get("event_action", "")
        signed = None
        if SIGNATURE_HEADER in request.headers:
            signed = self.secret is not None and verify(
                self.secret, request.headers[TIMESTAMP_HEADER], body,
                request.headers[SIGNATURE_HEADER],
            )  # fmt: skip
        with self._lock:
            if self.fail_first is not None and key not in self._seen and key not in self.script:
                self.script[key] = [self.fail_first]
            self._seen.add(key)
            steps = self.script.get(key)
            answer: int | str = steps.pop(0) if steps else self.default
            self.calls.append(Call(request.path, key, action, answer, signed, data))
        if answer == STALL:
            await asyncio.sleep(self.stall_s)
            return web.Response(status=504)
        headers = {"Retry-After": "0"} if answer == 429 else {}
        return web.json_response({"status": "ok"}, status=int(answer), headers=headers)

    def accepted(self, path: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.answer != STALL and 200 <= int(c.answer) < 300 and path in (None, c.path)
            ]

    def wait_accepted(self, count: int, timeout_s: float = 60, path: str | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.accepted(path)) < count:
            assert time.monotonic() < deadline, f"{len(self.accepted(path))} < {count} accepted"
            time.sleep(0.1)


def produce_pages(kafka: KafkaBroker, topic: str, messages: Sequence[PagerMessage | bytes]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        await producer.start()
        try:
            for m in messages:
                value = m if isinstance(m, bytes) else encode(m)
                key = None if isinstance(m, bytes) else record_key(m)  # as the worker keys them
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())
