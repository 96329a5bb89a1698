"""The `store` sink: its config, and its writes through the bridge's own retry machinery on a
real SQLite store (the PostgreSQL path: tests/integration/test_bridge_store.py)."""

import dataclasses
import random
import sqlite3

import pytest
from prometheus_client import CollectorRegistry

from alerting.bridge_config import BridgeConfigError, SinkSpec, load_bridge_config
from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import HttpRequest, HttpResponse, RetryPolicy
from alerting.sinks.base import Refused
from alerting.sinks.store import StoreSink
from alerting.store import (
    SchemaTooNew,
    Store,
    StoreUnavailable,
    StoreUrl,
    open_store,
    parse_store_url,
)
from streams.bridge_sinks import Job, SinkRunner
from tests.unit.alerting.incident_samples import MIN, correlated, key_page, org_page
from tests.unit.alerting.pager_samples import T0, message
from tests.unit.alerting.test_bridge_config import problems, write

DAY_MS = 86_400_000


class NoHttp:
    """The HTTP transport the bridge passes every sink: the store sink never uses it."""

    async def post(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        raise AssertionError("the store sink made an HTTP request")


NO_HTTP = NoHttp()
HEAD = "sinks:\n  - name: store\n    type: store\n"
ROUTES = "routes:\n  - sinks: [store]\n"


def test_a_store_sink_config_loads(tmp_path):
    text = HEAD + "    url: sqlite:///data/pages.db\n    retention: 30d\n    timeout: 2s\n" + ROUTES
    spec = load_bridge_config(write(tmp_path, text), {}).sinks["store"]
    assert isinstance(spec.sink, StoreSink)
    assert spec.sink.store_url == StoreUrl("sqlite", str(tmp_path / "data" / "pages.db"))
    assert spec.sink.retention_ms == 30 * DAY_MS and spec.policy.timeout_s == 2


def test_retention_defaults_to_90_days_and_urls_come_from_the_environment(tmp_path):
    url = "postgresql://sf:pa55word@db.internal/pages"
    text = HEAD + "    url_env: STORE_URL\n" + ROUTES
    config = load_bridge_config(write(tmp_path, text), {"STORE_URL": url})
    sink = config.sinks["store"].sink
    assert isinstance(sink, StoreSink) and sink.retention_ms == 90 * DAY_MS
    assert sink.store_url.target == url and "pa55word" not in repr(config)
    assert sink.url == "postgresql://sf:***@db.internal/pages"


def test_a_url_from_a_file(tmp_path):
    (tmp_path / "store.url").write_text("postgresql://sf:pa55word@db.internal/pages\n")
    text = HEAD + "    url_file: store.url\n" + ROUTES
    sink = load_bridge_config(write(tmp_path, text), {}).sinks["store"].sink
    assert isinstance(sink, StoreSink) and sink.store_url.password == "pa55word"


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("", 2, "needs one of url, url_env or url_file"),
        ("    url: sqlite:///a.db\n    url_env: X\n", 5, "needs one of url"),
        ("    url: http://db/pages\n", 4, "scheme 'http'"),
        ("    url: sqlite://pages.db\n", 4, "three slashes"),
        ("    url: postgresql://sf:pa55word@db/pages\n", 4, "password goes in url_env"),
        ("    url_env: NOPE\n", 4, "$NOPE is not set"),
        ("    url_file: absent.txt\n", 4, "cannot read"),
        ("    url: sqlite:///a.db\n    retention: forever\n", 5, "bad duration"),
        ("    url: sqlite:///a.db\n    resend_interval: 1m\n", 5, "unknown key"),
    ],
)
def test_store_sink_problems_name_file_and_line(tmp_path, body, line, words):
    found, path = problems(tmp_path, HEAD + body + ROUTES)
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in found), found
    assert not any("pa55word" in p for p in found)


def test_a_bad_url_from_the_environment_never_shows_its_password(tmp_path):
    text = HEAD + "    url_env: STORE_URL\n" + ROUTES
    with pytest.raises(BridgeConfigError) as info:
        load_bridge_config(write(tmp_path, text), {"STORE_URL": "postgresql://sf:pa55word@db:x/p"})
    assert "pa55word" not in str(info.value)


@pytest.fixture
def metrics():
    return BridgeMetrics.create(CollectorRegistry(), ("store",))


def writes(metrics, outcome):
    return metrics.store_writes.labels(sink="store", outcome=outcome)._value.get()


def sqlite_sink(tmp_path, **kw):
    return StoreSink("store", parse_store_url(f"sqlite:///{tmp_path / 'pages.db'}"), DAY_MS, **kw)


async def test_writes_are_stored_once_and_counted(tmp_path, metrics):
    sink = sqlite_sink(tmp_path)
    await sink.open(metrics)
    try:
        for _ in range(2):
            answer = await sink.attempt(message(), b"", 0.0, NO_HTTP)(5.0)
            assert answer.verdict == "delivered"
    finally:
        await sink.close()
    assert (writes(metrics, "stored"), writes(metrics, "duplicate")) == (1, 1)
    store = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    assert len(store.list_pages().pages) == 1
    store.close()


async def test_a_message_the_store_cannot_take_is_refused_before_any_write(tmp_path, metrics):
    sink = sqlite_sink(tmp_path)
    await sink.open(metrics)
    page = message()
    bad = dataclasses.replace(page, payload=dataclasses.replace(page.payload, timestamp="soon"))
    with pytest.raises(Refused, match=r"page store: payload\.timestamp"):
        sink.attempt(bad, b"", 0.0, NO_HTTP)
    await sink.close()


async def test_a_page_and_its_incident_are_written_together_or_not_at_all(tmp_path, metrics):
    sink = sqlite_sink(tmp_path)
    await sink.open(metrics)
    opened, absorbed = correlated([org_page("trigger", T0), key_page("trigger", T0 + MIN, "k1")])
    assert (await sink.attempt(opened, b"", 0.0, NO_HTTP)(5.0)).verdict == "delivered"
    other = sqlite3.connect(tmp_path / "pages.db", isolation_level=None)
    other.execute(
        "CREATE TRIGGER broken BEFORE INSERT ON incident_pages"
        " BEGIN SELECT RAISE(ABORT, 'incident_pages broken'); END"
    )
    attempt = sink.attempt(absorbed, b"", 0.0, NO_HTTP)
    answer = await attempt(5.0)
    assert answer.verdict == "retry" and "incident_pages broken" in answer.error
    assert other.execute("SELECT COUNT(*) FROM messages").fetchone() == (1,)  # the page too
    other.execute("DROP TRIGGER broken")
    other.close()
    assert (await attempt(5.0)).verdict == "delivered"
    assert (await attempt(5.0)).verdict == "delivered"  # a second delivery: a duplicate
    await sink.close()
    assert (writes(metrics, "stored"), writes(metrics, "duplicate")) == (2, 1)
    store = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    [incident] = store.list_incidents().incidents
    detail = store.incident(incident.id)
    assert detail is not None and [p.status for p in detail.pages] == ["opened", "absorbed"]
    store.close()


async def test_an_incident_the_store_cannot_take_is_refused_before_any_write(tmp_path, metrics):
    sink = sqlite_sink(tmp_path)
    await sink.open(metrics)
    [page] = correlated([org_page("trigger", T0)])
    details = page.payload.custom_details
    assert details.incident is not None
    bad_incident = dataclasses.replace(details.incident, opened_at="2026-11-23 08:00")
    bad = dataclasses.replace(
        page,
        payload=dataclasses.replace(
            page.payload, custom_details=dataclasses.replace(details, incident=bad_incident)
        ),
    )
    with pytest.raises(Refused, match=r"page store: custom_details\.incident\.opened_at"):
        sink.attempt(bad, b"", 0.0, NO_HTTP)
    await sink.close()


async def test_a_locked_database_is_a_try_to_repeat(tmp_path, metrics):
    sink = sqlite_sink(tmp_path, timeout_s=0.2)
    await sink.open(metrics)
    other = sqlite3.connect(tmp_path / "pages.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    attempt = sink.attempt(message(), b"", 0.0, NO_HTTP)
    answer = await attempt(5.0)
    assert answer.verdict == "retry" and "locked" in answer.error
    other.execute("ROLLBACK")
    assert (await attempt(5.0)).verdict == "delivered"
    assert (writes(metrics, "unavailable"), writes(metrics, "stored")) == (1, 1)
    await sink.close()


async def test_the_bridge_runner_retries_a_database_that_is_down_then_delivers(tmp_path, metrics):
    url = parse_store_url(f"sqlite:///{tmp_path / 'pages.db'}")
    downs = [StoreUnavailable("postgresql db: connection refused")] * 3

    def opener(u, timeout_s):
        if downs:
            raise downs.pop()
        return open_store(u)

    sink = StoreSink("store", url, DAY_MS, opener=opener)
    spec = SinkSpec(sink, RetryPolicy(initial_s=0.01, max_s=0.01, attempts=5), None)
    done = []

    async def on_done(name, job, result):
        done.append(result)

    async def no_sleep(_s):
        return None

    runner = SinkRunner(spec, NO_HTTP, metrics, on_done, sleep=no_sleep, rng=random.Random(0))
    await sink.open(metrics)  # down: the bridge still starts
    assert len(downs) == 2
    await runner._handle(Job(0, 7, message(), b"", b"", 0.0))
    [result] = done
    assert (result.outcome, result.attempts) == ("delivered", 3)
    assert metrics.retries.labels(sink="store")._value.get() == 2
    assert writes(metrics, "unavailable") == 2 and writes(metrics, "stored") == 1
    await sink.close()


async def test_a_database_newer_than_the_bridge_stops_it_at_start(tmp_path, metrics):
    store = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    with store.db.transaction() as tx:
        tx.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    store.close()
    sink = sqlite_sink(tmp_path)
    with pytest.raises(SchemaTooNew, match="999"):
        await sink.open(metrics)
    await sink.close()


async def test_retention_runs_at_open(tmp_path, metrics):
    store = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    store.record(message(at=T0))  # event time far older than a day before now
    store.close()
    sink = sqlite_sink(tmp_path)
    await sink.open(metrics)
    await sink.close()
    assert metrics.store_purged.labels(sink="store")._value.get() == 1


async def test_an_unexpected_error_is_a_failed_try_not_a_dead_sink(tmp_path, metrics):
    class Broken(Store):
        def record_row(self, row):
            raise RuntimeError("a bug")

    def opener(u, timeout_s):
        real = open_store(u)
        return Broken(real.db)

    sink = StoreSink("store", parse_store_url(f"sqlite:///{tmp_path / 'p.db'}"), DAY_MS,
                     opener=opener)  # fmt: skip
    await sink.open(metrics)
    answer = await sink.attempt(message(), b"", 0.0, NO_HTTP)(5.0)
    assert (answer.verdict, answer.error) == ("retry", "page store: RuntimeError")
    await sink.close()
