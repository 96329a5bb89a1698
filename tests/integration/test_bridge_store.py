"""`signalfire bridge` with a store sink on real Kafka and a real PostgreSQL server: pages
stored once each; PostgreSQL stopped while pages arrive, then started: every page stored once,
the offset held until then; a replay of the whole topic stores nothing twice; a page the store
cannot take is dead-lettered; the database password never reaches the log; a database newer
than the bridge stops it at start."""

import dataclasses
import time
import uuid

import orjson
import pytest

from alerting.pager import PagerMessage, encode
from alerting.store import open_store
from tests.integration.bridge_harness import produce_pages
from tests.integration.test_bridge_sinks import bridge_for, committed_to_end
from tests.integration.worker_harness import read_topic
from tests.postgres_server import PostgresServer
from tests.unit.alerting.pager_samples import T0, fanout, message

pytestmark = pytest.mark.integration

PASSWORD = "pg-pa55word-for-tests"  # trust auth ignores it; it must still never be logged
CONFIG = (
    "sinks:\n"
    "  - name: store\n    type: store\n    url_env: TEST_STORE_URL\n    retention: 3650d\n"
    "    timeout: 2s\n    retry: {initial: 100ms, max: 500ms, attempts: 100}\n"
    "routes:\n  - sinks: [store]\n"
)
MIN = 60_000


@pytest.fixture
def pg():
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


def stored_messages(url: str) -> list[tuple[str, str, int]]:
    store = open_store(url)
    try:
        with store.db.transaction() as tx:
            rows = tx.all("SELECT dedup_key, event_action, event_at FROM messages ORDER BY id")
    finally:
        store.close()
    return [(r[0], r[1], int(r[2])) for r in rows]


def wait_stored(url: str, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(stored_messages(url)) < count:
        assert time.monotonic() < deadline, f"{len(stored_messages(url))} < {count} stored"
        time.sleep(0.2)


def test_pages_survive_a_database_outage_and_a_replay_stores_nothing_twice(kafka, pg, tmp_path):
    url = pg.create_database().replace("signalfire@", f"signalfire:{PASSWORD}@")
    bridge = bridge_for(kafka, tmp_path, CONFIG)
    bridge.env["TEST_STORE_URL"] = url
    page = message(key="bad")
    unstorable = dataclasses.replace(page, payload=dataclasses.replace(page.payload, timestamp="x"))
    first: list[PagerMessage | bytes] = [message(key="a", at=T0), fanout(at=T0), encode(unstorable)]
    during = [
        message("resolve", key="a", at=T0 + MIN),
        message(key="b", at=T0 + MIN),
        message(key="a", at=T0 + 2 * MIN),
        fanout(ip="198.51.100.7", at=T0 + 2 * MIN),
        message("resolve", key="b", at=T0 + 3 * MIN),
    ]
    bridge.start(tmp_path).wait_ready()
    try:
        produce_pages(kafka, bridge.pager_topic, first)
        wait_stored(url, 2)
        bridge.wait_metric("signalfire_bridge_dead_lettered_total", 1)
        [dead] = read_topic(kafka, bridge.dlq_topic, quiet_s=1)
        headers = dict(dead.headers)
        assert headers["sink"] == b"store" and b"payload.timestamp" in headers["error"]
        assert orjson.loads(dead.value)["dedup_key"] == unstorable.dedup_key

        pg.stop()
        produce_pages(kafka, bridge.pager_topic, during)
        bridge.wait_metric("signalfire_bridge_store_writes_total", 3, outcome="unavailable")
        assert bridge.metric("signalfire_bridge_pending", sink="store") >= 1
        bridge.wait_metric("signalfire_bridge_consumed_total", 8)
        time.sleep(1.5)  # past the commit interval: a commit now would show a skipped page
        assert not committed_to_end(kafka, bridge.pager_topic, bridge.group)

        pg.start()
        wait_stored(url, 7)
        bridge.wait_metric("signalfire_bridge_store_writes_total", 7, outcome="stored")
        assert bridge.stop() == 0
        assert committed_to_end(kafka, bridge.pager_topic, bridge.group)
        log = bridge.log_text()
        assert PASSWORD not in log and "signalfire:***@" in log
    finally:
        if bridge.proc and bridge.proc.poll() is None:
            bridge.kill()

    stored = stored_messages(url)
    assert len(stored) == len(set(stored)) == 7
    store = open_store(url)
    try:
        a_pages = store.pages_of("a", "api_key_id").pages
        assert [(p.state, p.triggers) for p in a_pages] == [("triggered", 1), ("resolved", 1)]
        assert len(store.list_pages(limit=50).pages) == 5
    finally:
        store.close()

    # A new consumer group reads the whole topic again: every page is a duplicate.
    bridge.group = f"replay-{uuid.uuid4().hex[:8]}"
    bridge.start(tmp_path).wait_ready()
    try:
        bridge.wait_metric("signalfire_bridge_store_writes_total", 7, outcome="duplicate")
        assert bridge.metric("signalfire_bridge_store_writes_total", outcome="stored") == 0
        assert bridge.stop() == 0
    finally:
        if bridge.proc and bridge.proc.poll() is None:
            bridge.kill()
    assert stored_messages(url) == stored


def test_a_database_newer_than_the_bridge_stops_it_with_the_reason(kafka, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    with store.db.transaction() as tx:
        tx.execute("INSERT INTO schema_version VALUES (999, 'from the future', 0)")
    store.close()
    text = CONFIG.replace("url_env: TEST_STORE_URL", "url: sqlite:///pages.db")
    bridge = bridge_for(kafka, tmp_path, text).start(tmp_path)
    assert bridge.proc is not None
    try:
        assert bridge.proc.wait(60) == 1
    finally:
        if bridge.proc.poll() is None:
            bridge.kill()
    log = bridge.log_text()
    assert "database schema version 999 is newer than this Signalfire's" in log
    assert "Traceback" not in log
