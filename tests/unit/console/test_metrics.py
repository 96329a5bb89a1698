"""The console's `/metrics`: rule quality over the lookback window, without a login, read back
with Prometheus' own parser; a store that is down fails the scrape."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from alerting.console.app import make_app
from alerting.console.auth import Role, User, hash_token
from alerting.console.config import ConsoleConfig
from alerting.metrics import Factory
from alerting.quality import quality_table
from alerting.quality_metrics import QualityMetrics
from alerting.store import Store, TriageFact, open_store
from tests.unit.alerting.pager_samples import T0, fanout, message

MIN = 60_000
NOW_S = (T0 + 30 * MIN) / 1000
Client = TestClient[web.Request, web.Application]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def publish(key: str, value: bytes | None) -> None:
    return None


@pytest.fixture
def store(tmp_path: Path) -> Store:
    at = {"now": T0 / 1000}
    store = open_store(f"sqlite:///{tmp_path / 'db' / 'pages.db'}", clock=lambda: at["now"])
    old = store.record(message(key="k_0", at=T0 - 40 * MIN)).page_id  # before the lookback
    a = store.record(message(key="k_1", at=T0)).page_id
    b = store.record(message(key="k_2", at=T0 + MIN)).page_id
    store.record(fanout(at=T0 + 2 * MIN))
    at["now"] = (T0 + 10 * MIN) / 1000
    store.acknowledge(a, "ivy")
    store.verdict(a, "confirmed_abuse", "ivy")
    store.verdict(old, "false_positive", "ivy")
    at["now"] = (T0 + 25 * MIN) / 1000
    store.verdict(b, "benign", "ivy")
    return store


async def client_for(store: Store) -> Client:
    users = {"g": User("g", Role.viewer, None, hash_token("tok"))}
    config = ConsoleConfig(store_url="sqlite://", users=users, metrics_lookback_ms=30 * MIN + 1)
    return TestClient(TestServer(make_app(config, store, publish, clock=lambda: NOW_S)))


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Client]:
    async with await client_for(store) as client:
        yield client


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def at(got: Samples, name: str, *labels: tuple[str, str]) -> float:
    return got[(name, tuple(sorted(labels)))]


async def test_metrics_need_no_login_and_show_the_window(client: Client) -> None:
    response = await client.get("/metrics", allow_redirects=False)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    got = samples(await response.text())
    burst = (("rule", "api_key_burst"), ("severity", "critical"))
    fan = (("rule", "ip_account_fanout"), ("severity", "warning"))
    # the window is the last 30 minutes and 1 ms: k_0's episode is out of it
    assert got[("signalfire_quality_pages", burst)] == 2
    assert got[("signalfire_quality_pages", fan)] == 1
    assert got[("signalfire_quality_acknowledged", burst)] == 1
    assert got[("signalfire_quality_unreviewed", fan)] == 1
    verdicts = {
        labels[2][1]: value
        for (name, labels), value in got.items()
        if name == "signalfire_quality_verdicts" and labels[:2] == burst
    }
    assert verdicts == {"confirmed_abuse": 1, "false_positive": 0, "benign": 1, "duplicate": 0}
    assert got[("signalfire_quality_precision", (("rule", "api_key_burst"),))] == 0.5
    assert ("signalfire_quality_precision", (("rule", "ip_account_fanout"),)) not in got
    ack = "signalfire_quality_time_to_ack_seconds"
    ttv = "signalfire_quality_time_to_verdict_seconds"
    assert [at(got, ack, *burst, ("quantile", q)) for q in ("0.5", "0.9")] == [600.0, 600.0]
    # from when the pages reached the store (all at T0) to their first verdicts
    assert [at(got, ttv, *burst, ("quantile", q)) for q in ("0.5", "0.9")] == [600.0, 1500.0]
    assert got[("signalfire_quality_lookback_seconds", ())] == 30 * 60 + 0.001


async def test_a_rule_out_of_the_window_leaves_the_metrics(store: Store) -> None:
    async with await client_for(store) as client:
        first = await (await client.get("/metrics")).text()
    assert 'rule="api_key_burst"' in first
    later = make_app(
        ConsoleConfig(store_url="sqlite://", users={}, metrics_lookback_ms=MIN),
        store,
        publish,
        clock=lambda: NOW_S + 86_400,
    )
    async with TestClient(TestServer(later)) as client:
        text = await (await client.get("/metrics")).text()
    assert "rule=" not in text and "signalfire_quality_lookback_seconds 60.0" in text


async def test_a_store_that_is_gone_fails_the_scrape(
    store: Store, client: Client, tmp_path: Path
) -> None:
    store.close()  # it reconnects on the next read: into a directory that is now a file
    shutil.rmtree(tmp_path / "db")
    (tmp_path / "db").write_text("not a directory")
    response = await client.get("/metrics")
    assert response.status == 503
    assert "page store unavailable" in await response.text()


def test_series_are_replaced_not_accumulated() -> None:
    registry = CollectorRegistry()
    metrics = QualityMetrics.create(registry)
    fact = TriageFact(1, "r", "info", T0, None, None, "benign")
    metrics.update(quality_table([fact]), 60)
    assert registry.get_sample_value("signalfire_quality_pages", {"rule": "r", "severity": "info"})
    assert registry.get_sample_value("signalfire_quality_precision", {"rule": "r"}) == 0.0
    metrics.update((), 60)
    assert registry.get_sample_value(
        "signalfire_quality_pages", {"rule": "r", "severity": "info"}
    ) is None  # fmt: skip


def test_quality_labels_are_the_bounded_ones() -> None:
    f = Factory(CollectorRegistry(), "x")
    f.gauge("ok", "fine", ("rule", "severity", "verdict", "quantile"))
    with pytest.raises(ValueError, match="page_id"):
        f.gauge("bad", "no", ("page_id",))
