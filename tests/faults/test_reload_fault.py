"""An invalid rule file dropped into the rules directory mid-stream: the reload is rejected,
the running rules go on, and every page the backtest raises arrives once."""

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

pytestmark = pytest.mark.integration

BROKEN = """\
id: half_written
title: A rule someone is still typing
severity: critical
group_by: [org_id]
detect: {type: threshold, window: 1 minute, threshold: 10}
"""


def test_invalid_rule_file_mid_stream_keeps_the_old_rules(kafka, tmp_path):
    events = list(iter_events(GeneratorConfig(seed=61, events=40_000)))
    last = max(e["ts"] for e in events)
    events.append({"event_id": "tick", "ts": last + 120_000, "org_id": "org_tick",
                   "event_type": "heartbeat"})  # fmt: skip
    backtest = run_backtest(load_rules(["rules"]).rules, lines_of(events))
    expected = [to_json(m) for m in backtest.messages]
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=4)
    rules = copy_rules(tmp_path / "rules")
    worker = WorkerProcess(kafka, topics, rules)
    half = len(events) // 2
    try:
        worker.start(tmp_path).wait_ready()
        produce(kafka, topics.events, events[:half])
        worker.wait_metric("signalfire_events_consumed_total", half // 2)
        (rules / "half_written.yaml").write_text(BROKEN)
        worker.wait_metric('signalfire_rules_reloads_total{outcome="rejected"}', 1)
        produce(kafka, topics.events, events[half:])
        pages = wait_for_pages(kafka, topics.pager, len(expected))
        want, got, lost, duplicated = compare_pages(expected, pages)
        crashes = 0 if worker.proc is not None and worker.proc.poll() is None else 1
        dead = len(read_topic(kafka, topics.dlq, quiet_s=1))
        record(
            "invalid rule file mid-stream", Figures(1, want, got, lost, duplicated, dead, crashes)
        )
        assert (lost, duplicated, crashes) == (0, 0, 0), worker.log_text()
        assert worker.metric("signalfire_rules_loaded") == len(load_rules(["rules"]).rules)
        text = worker.log_text()
        assert "half_written.yaml:5:" in text  # the problem, as file:line: message
    finally:
        if worker.proc is not None and worker.proc.poll() is None:
            worker.stop()
