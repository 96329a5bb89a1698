"""A real Prometheus server (Debian's `prometheus` binary) scraping test processes.

    prom = PrometheusServer(tmp_path, {"signalfire": ["127.0.0.1:6066"]}).start()
    prom.wait_scrapes(3)                 # three more successful scrapes of every target
    prom.query("sum(signalfire_worker_up)")
    prom.stop()

It listens on a free loopback port, keeps its TSDB in the given directory and scrapes every
second. A missing binary fails with a message that says what to install.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from tests.kafka_broker import free_port

SCRAPE_INTERVAL = "1s"


def prometheus_binary() -> str:
    exe = shutil.which("prometheus")
    assert exe, (
        "prometheus not found on PATH: install Debian's prometheus package "
        "(apt-get install prometheus, as `make tools` does)"
    )
    return exe


@dataclass
class PrometheusServer:
    workdir: Path
    jobs: Mapping[str, Sequence[str]]  # job name -> scrape targets (host:port)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        return {
            "global": {
                "scrape_interval": SCRAPE_INTERVAL,
                "scrape_timeout": SCRAPE_INTERVAL,
                "evaluation_interval": SCRAPE_INTERVAL,
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]}
                for job, targets in self.jobs.items()
            ],
        }

    def start(self, timeout_s: float = 60) -> Self:
        exe = prometheus_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self.proc = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            assert self.proc.poll() is None, f"prometheus exited\n{self.log_text()}"
            assert time.monotonic() < deadline, f"prometheus not ready\n{self.log_text()}"
            time.sleep(0.2)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """An HTTP API call; errors (a query that does not parse) come back as their JSON body."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body: dict[str, Any] = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        return body

    def query(self, expr: str) -> dict[str, Any]:
        """`/api/v1/query` at the current time: {"status": ..., "data": {"result": ...}}."""
        return self.get("/api/v1/query", {"query": expr})

    def label_values(self, label: str, match: str) -> list[str]:
        body = self.get(f"/api/v1/label/{label}/values", {"match[]": match})
        assert body["status"] == "success", body
        values: list[str] = body["data"]
        return values

    def scrapes(self) -> int:
        """Successful scrapes of the least scraped target so far: 0 until every target has
        been scraped (a target Prometheus has not scraped yet has no `up` series to count)."""
        body = self.query("sum_over_time(up[1h])")
        assert body["status"] == "success", body
        result = body["data"]["result"]
        expected = sum(len(targets) for targets in self.jobs.values())
        if len(result) < expected:
            return 0
        return min(int(float(r["value"][1])) for r in result)

    def wait_scrapes(self, more: int, timeout_s: float = 60) -> None:
        """Until every target has been scraped successfully `more` more times."""
        target = self.scrapes() + more
        deadline = time.monotonic() + timeout_s
        while self.scrapes() < target:
            assert time.monotonic() < deadline, (
                f"fewer than {target} scrapes in {timeout_s}s\n{self.targets()}\n{self.log_text()}"
            )
            time.sleep(0.25)

    def targets(self) -> str:
        """Scrape targets with their health and last error, for failure messages."""
        try:
            active = self.get("/api/v1/targets", {})["data"]["activeTargets"]
        except OSError as exc:
            return f"(targets unavailable: {exc})"
        return "\n".join(
            f"{t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}" for t in active
        )

    def stop(self, timeout_s: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
