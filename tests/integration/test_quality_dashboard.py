"""The "Detection quality" dashboard against a real Prometheus scraping a real console.

The console runs in this process on a SQLite page store holding pages of two rules, some
acknowledged, with every kind of verdict (one changed later). Prometheus scrapes its
`/metrics` as the `signalfire-console` job of deploy/prometheus; every panel query of
quality.json must return series, and the precision Prometheus holds must be the one
`signalfire rules report` prints from the same store.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from alerting.console.app import make_app
from alerting.console.auth import Role, User, hash_token
from alerting.console.config import ConsoleConfig
from alerting.store import VerdictName, open_store
from signalfire.cli import main
from tests.grafana_dashboards import DASHBOARDS, label_values_query, load, substitute, targets
from tests.grafana_dashboards import variables as dashboard_variables
from tests.integration.prometheus_server import PrometheusServer, prometheus_binary
from tests.kafka_broker import free_port
from tests.unit.alerting.pager_samples import fanout, message

pytestmark = pytest.mark.integration

JOB = "signalfire-console"
MIN = 60_000
GRAFANA_VALUES = {"__rate_interval": "5m", "__interval": "15s", "__range": "10m"}


async def _publish(key: str, value: bytes | None) -> None:
    return None


@dataclass
class ConsoleThread:
    """The console's aiohttp app on its own event loop in a thread, on a free loopback port."""

    app: web.Application
    port: int = field(default_factory=free_port)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    runner: web.AppRunner | None = None

    def start(self) -> ConsoleThread:
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def fill(url: str, now_ms: int) -> None:
    """Pages of the last two hours, triaged in the minutes after each started."""
    t0 = now_ms - 2 * 3_600_000
    at = {"now": t0 / 1000}
    store = open_store(url, clock=lambda: at["now"])
    try:
        pages, fan = [], []
        for i in range(6):  # each page reaches the store as it starts
            at["now"] = (t0 + i * MIN) / 1000
            pages.append(store.record(message(key=f"k_{i}", at=t0 + i * MIN)).page_id)
            if i < 3:
                fan.append(store.record(fanout(ip=f"203.0.113.{i}", at=t0 + i * MIN)).page_id)
        triage: list[tuple[int, int, VerdictName | None]] = [
            (pages[0], 3, "confirmed_abuse"),
            (pages[1], 5, "confirmed_abuse"),
            (pages[2], 8, "false_positive"),
            (pages[3], 13, "benign"),
            (pages[4], 21, None),  # acknowledged, not judged
            (fan[0], 4, "duplicate"),
            (fan[1], 30, "false_positive"),
        ]
        for page_id, after_min, verdict in triage:
            at["now"] = (t0 + after_min * MIN) / 1000
            store.acknowledge(page_id, "ivy")
            if verdict is not None:
                store.verdict(page_id, verdict, "ivy")
        at["now"] = (t0 + 40 * MIN) / 1000
        store.verdict(fan[1], "confirmed_abuse", "ada", "second look")  # the standing one
    finally:
        store.close()


@dataclass
class Scraped:
    prometheus: PrometheusServer
    store_url: str


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    prometheus_binary()
    tmp = tmp_path_factory.mktemp("quality")
    url = f"sqlite:///{tmp / 'pages.db'}"
    fill(url, int(time.time() * 1000))
    store = open_store(url)
    users = {"grafana": User("grafana", Role.viewer, None, hash_token("t"))}
    config = ConsoleConfig(store_url=url, users=users)
    console = ConsoleThread(make_app(config, store, _publish)).start()
    prometheus: PrometheusServer | None = None
    try:
        prometheus = PrometheusServer(tmp / "prometheus", {JOB: [f"127.0.0.1:{console.port}"]})
        prometheus.start().wait_scrapes(3)
        yield Scraped(prometheus, url)
    finally:
        if prometheus is not None:
            prometheus.stop()
        console.stop()
        store.close()


def grafana_values(model: dict[str, Any]) -> dict[str, str]:
    return GRAFANA_VALUES | {v["name"]: v["allValue"] for v in dashboard_variables(model)}


def test_every_quality_panel_query_returns_series(scraped: Scraped):
    model = load(DASHBOARDS / "quality.json")
    values = grafana_values(model)
    found = targets("quality.json", model)
    assert len(found) >= 10
    failed = []
    for target in found:
        body = scraped.prometheus.query(substitute(target.expr, values))
        if body["status"] != "success" or not body["data"]["result"]:
            failed.append(f"{target}\n  -> {body}")
    assert not failed, "\n".join(failed) + f"\n{scraped.prometheus.targets()}"


def test_the_rule_variable_lists_both_rules(scraped: Scraped):
    model = load(DASHBOARDS / "quality.json")
    (rule,) = dashboard_variables(model)
    query = label_values_query(rule["definition"])
    assert query is not None
    found = scraped.prometheus.label_values(query[1], query[0])
    assert sorted(found) == ["api_key_burst", "ip_account_fanout"]


def test_prometheus_holds_the_reports_numbers(scraped: Scraped, capsys: pytest.CaptureFixture[str]):
    assert main(["rules", "report", "--store", scraped.store_url, "--json"]) == 0
    report = {r["rule"]: r for r in orjson.loads(capsys.readouterr().out)["rules"]}
    # 2 confirmed of 4 judged (the duplicate left out); the fanout's changed verdict stands
    assert report["api_key_burst"]["total"]["precision"] == 0.5
    assert report["ip_account_fanout"]["total"]["precision"] == 1.0
    body = scraped.prometheus.query("signalfire_quality_precision")
    shown = {s["metric"]["rule"]: float(s["value"][1]) for s in body["data"]["result"]}
    assert shown == {rule: r["total"]["precision"] for rule, r in report.items()}
    body = scraped.prometheus.query('signalfire_quality_time_to_ack_seconds{quantile="0.9"}')
    p90 = {s["metric"]["rule"]: float(s["value"][1]) for s in body["data"]["result"]}
    assert p90 == {rule: r["total"]["time_to_ack_s"]["p90"] for rule, r in report.items()}
    assert p90["api_key_burst"] == 17 * 60.0  # 3, 4, 6, 10 and 17 minutes: the 5th of 5
