"""The Kafka worker on a real broker: live == backtest, dead letters, health, hot reload."""

import collections
import time

import pytest

from alerting.pager import decode, encode, to_json
from signalfire.cli.backtest import run_backtest
from signalfire.entities import entity_ref
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules import load_rules
from signalfire.sources import lines_of
from tests.integration.worker_harness import (
    Topics,
    WorkerProcess,
    copy_rules,
    page_set,
    produce,
    read_topic,
    wait_for_pages,
)

pytestmark = pytest.mark.integration

BAD_RECORDS = [
    b"not json at all",
    b"[1, 2, 3]",
    b'{"event_id": "x1", "ts": 1795392000000}',
    b'{"event_id": "x2", "ts": 1795392000000, "org_id": "o", "status": "teapot"}',
]


def trigger_counts(messages):
    return collections.Counter(m["dedup_key"] for m in messages if m["event_action"] == "trigger")


def test_live_equals_backtest_and_bad_records_are_dead_lettered(kafka, tmp_path):
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=4)
    config = GeneratorConfig(seed=11, events=60_000)
    events = list(iter_events(config))
    backtest = run_backtest(load_rules(["rules"]).rules, lines_of(events))
    expected = [to_json(m) for m in backtest.messages]
    assert len(expected) >= 10  # the scenarios page

    produce(kafka, topics.events, events)
    from aiokafka import AIOKafkaProducer  # raw bytes, to check they come back unchanged

    async def send_bad():
        p = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await p.start()
        for n, value in enumerate(BAD_RECORDS):
            await p.send_and_wait(topics.events, value, key=f"bad{n}".encode(), partition=n % 4)
        await p.stop()

    import asyncio

    asyncio.run(send_bad())

    worker = WorkerProcess(kafka, topics, copy_rules(tmp_path / "rules")).start(tmp_path)
    try:
        worker.wait_ready()
        pages = wait_for_pages(kafka, topics.pager, len(expected))
        assert page_set(pages) == page_set(expected), worker.log_text()
        # What the bridge reads: every page decodes, and encodes back to the very same bytes.
        written = [r.value for r in read_topic(kafka, topics.pager)]
        assert [encode(decode(v)) for v in written] == written
        triggers = collections.Counter(
            m["dedup_key"] for m in pages if m["event_action"] == "trigger"
        )
        assert triggers == collections.Counter(
            m["dedup_key"] for m in expected if m["event_action"] == "trigger"
        )
        dead = read_topic(kafka, topics.dlq)
        assert sorted(r.value for r in dead) == sorted(BAD_RECORDS)
        for record in dead:
            headers = dict(record.headers)
            assert headers["source_topic"] == topics.events.encode()
            assert int(headers["source_partition"]) in range(4)
            assert int(headers["source_offset"]) >= 0
            assert headers["error"]
            assert record.key.startswith(b"bad")
        status, body = worker.get("/metrics")
        assert status == 200
        text = body.decode()
        assert 'signalfire_events_dead_lettered_total{reason="not_json"} 1.0' in text
        assert 'signalfire_events_dead_lettered_total{reason="missing_field"} 1.0' in text
        assert "org_" not in text  # no user-controlled values in metric labels
        assert worker.get("/healthz")[0] == 200
    finally:
        assert worker.stop() == 0, worker.log_text()


def test_hot_reload_rejects_bad_rules_and_keeps_running(kafka, tmp_path):
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=2)
    rules = copy_rules(tmp_path / "rules")
    worker = WorkerProcess(kafka, topics, rules).start(tmp_path)
    try:
        worker.wait_ready()
        (rules / "broken.yaml").write_text("id: broken\ntitle: B\nseverity: loud\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = worker.get("/metrics")[1].decode()
            if 'signalfire_rules_reloads_total{outcome="rejected"} 1.0' in text:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(worker.log_text())
        assert "signalfire_rules_loaded 14.0" in text
        assert "broken.yaml:3: severity" in worker.log_text()
        (rules / "broken.yaml").unlink()
        (rules / "api_key_burst.yaml").write_text(
            (rules / "api_key_burst.yaml").read_text().replace("threshold: 1000", "threshold: 900")
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = worker.get("/metrics")[1].decode()
            if 'signalfire_rules_reloads_total{outcome="ok"} 1.0' in text:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(worker.log_text())
        # still consuming after both reloads
        produce(kafka, topics.events, [{"event_id": "a", "ts": 1, "org_id": "o"}])
        deadline = time.monotonic() + 20
        while "signalfire_events_decoded_total 1.0" not in worker.get("/metrics")[1].decode():
            assert time.monotonic() < deadline, worker.log_text()
            time.sleep(0.5)
    finally:
        assert worker.stop() == 0, worker.log_text()


def test_pages_are_keyed_by_dedup_key(kafka, tmp_path):
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=1)
    burst = [
        {"event_id": f"b{i}", "ts": 1795392000000 + i * 10, "org_id": "o1", "api_key_id": "k1",
         "event_type": "request"}
        for i in range(1100)
    ]  # fmt: skip
    produce(kafka, topics.events, burst)
    worker = WorkerProcess(kafka, topics, copy_rules(tmp_path / "rules")).start(tmp_path)
    try:
        worker.wait_ready()
        wait_for_pages(kafka, topics.pager, 1, timeout_s=60)
        records = read_topic(kafka, topics.pager)
        ((page, message),) = [
            (r, m) for r in records if (m := decode(r.value)).payload.component == "api_key_burst"
        ]
        # keyed by its root entity (the org): every page of the org in one partition, in order
        org = message.payload.custom_details.group["org_id"]
        assert page.key == entity_ref("org_id", org).encode()
        assert message.payload.custom_details.value == 1001
    finally:
        assert worker.stop() == 0, worker.log_text()
