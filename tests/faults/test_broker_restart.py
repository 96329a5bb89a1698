"""The Kafka broker killed and restarted under load: the worker reconnects and raises every
page the backtest of the same events raises, once (read_committed). Its own broker, so the
shared one stays up for the other tests."""

import time
from collections.abc import Iterator

import pytest

from alerting.pager import to_json
from signalfire.cli.backtest import run_backtest
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules import load_rules
from signalfire.sources import lines_of
from tests.faults.figures import Figures, compare_pages, record
from tests.integration.worker_harness import (
    Topics,
    WorkerProcess,
    copy_rules,
    produce,
    read_topic,
    wait_for_pages,
)
from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration
DOWN_S = 5


@pytest.fixture(scope="module")
def own_broker() -> Iterator[KafkaBroker]:
    broker = KafkaBroker()
    try:
        KafkaBroker.fetch()
        broker.start()
        yield broker
    finally:
        broker.close()


def test_broker_killed_and_restarted_under_load(own_broker, tmp_path):
    kafka = own_broker
    events = list(iter_events(GeneratorConfig(seed=53, events=60_000)))
    last = max(e["ts"] for e in events)
    events.append({"event_id": "tick", "ts": last + 120_000, "org_id": "org_tick",
                   "event_type": "heartbeat"})  # fmt: skip
    backtest = run_backtest(load_rules(["rules"]).rules, lines_of(events))
    expected = [to_json(m) for m in backtest.messages]
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=4)
    worker = WorkerProcess(kafka, topics, copy_rules(tmp_path / "rules"))
    third = len(events) // 3
    crashes = 0
    crashed = ""
    try:
        worker.start(tmp_path, checkpoint="1s").wait_ready()
        produce(kafka, topics.events, events[:third])
        consumed = "signalfire_events_consumed_total"
        worker.wait_metric(consumed, third // 3)
        kafka.kill()  # mid-batch, with transactions open
        time.sleep(DOWN_S)
        kafka.restart()
        produce(kafka, topics.events, events[third:])
        deadline = time.monotonic() + 180
        pages = []
        while time.monotonic() < deadline:
            if worker.proc is not None and worker.proc.poll() is not None:
                crashes += 1  # the orchestrator's job: restart it, and count it
                crashed = worker.log_text()
                worker.start(tmp_path, checkpoint="1s")
            pages = wait_for_pages(kafka, topics.pager, len(expected), timeout_s=10)
            if len(pages) >= len(expected):
                break
        want, got, lost, duplicated = compare_pages(expected, pages)
        dead = len(read_topic(kafka, topics.dlq, quiet_s=1))
        record("broker killed for 5 s", Figures(1, want, got, lost, duplicated, dead, crashes))
        assert (lost, duplicated) == (0, 0), worker.log_text()
        assert crashes == 0, crashed
    finally:
        if worker.proc is not None and worker.proc.poll() is None:
            worker.stop()
