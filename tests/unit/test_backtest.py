"""Backtests: pages as the worker would send them, and the would-have-paged diff."""

import orjson
import pytest

from alerting.message import pager_message
from alerting.pager import encode
from alerting.redact import REDACTED, Redaction
from signalfire.cli.backtest import BacktestResult, run_backtest
from signalfire.cli.pagediff import page_diff
from signalfire.engine.alert import Alert, Evidence
from signalfire.rules import load_rules
from signalfire.sources import lines_of
from streams.config import WorkerConfig
from streams.processor import Processor
from tests.unit.helpers import base_rule, ev
from tests.unit.streams.memory_kafka import Record

MIN = 60_000
HOUR = 60 * MIN


# -- redaction ------------------------------------------------------------------------------
def test_backtest_always_redacts_secret_fields():
    r = base_rule({"type": "new_value", "field": "attrs.api_key", "warmup": "1m"})
    events = [ev(0, attrs={"api_key": "sk-live-first"}), ev(2 * MIN, attrs={"api_key": "sk-x2"})]
    (page,) = run_backtest([r], lines_of(events)).messages
    assert b"sk-live-first" not in encode(page) and b"sk-x2" not in encode(page)
    assert page.payload.custom_details.value == REDACTED


def test_backtest_redacts_configured_fields():
    r = base_rule({"type": "match"}, group_by=["org_id", "ip"])
    events = [ev(0, ip="203.0.113.9")]
    (clear,) = run_backtest([r], lines_of(events)).messages
    (hidden,) = run_backtest([r], lines_of(events), redaction=Redaction.of(["ip"])).messages
    assert clear.payload.custom_details.group["ip"] == "203.0.113.9"
    assert hidden.payload.custom_details.group == {"org_id": "o1", "ip": REDACTED}
    assert hidden.dedup_key == clear.dedup_key


def test_backtest_pages_are_the_pages_the_worker_sends():
    rules = load_rules(["rules"]).rules
    config = WorkerConfig(rules="rules", idle_timeout_ms=5_000, redact=("api_key_id",))
    worker = Processor(config, rules, lambda: 1000.0)
    worker.partitions = 1
    worker.assign([(config.events_topic, 0)])
    events = [
        {"event_id": f"e{i}", "ts": 1_000 + i * 40, "org_id": "o1", "event_type": "request",
         "api_key_id": "key_secretive", "attrs": {"prompt": "tell me a secret"}}
        for i in range(1_200)
    ]  # fmt: skip
    recs = [Record(config.events_topic, 0, i, b"o1", orjson.dumps(e)) for i, e in enumerate(events)]
    sent = [v for _, v in worker.process((config.events_topic, 0), recs).pages]
    backtest = run_backtest(rules, lines_of(events), redaction=Redaction.of(config.redact))
    burst = [encode(m) for m in backtest.messages if m.payload.component == "api_key_burst"]
    assert burst and burst == [v for v in sent if b"api_key_burst/" in v]
    assert not any(b"key_secretive" in encode(m) for m in backtest.messages)


# -- the would-have-paged diff ----------------------------------------------------------------
COND = base_rule({"type": "threshold", "window": "1m", "threshold": 5})  # resolves (5m)
OCC = base_rule({"type": "match"})  # no resolves, throttle 10m
OCC_30M = base_rule({"type": "match"}, throttle="30m")
OCC_RESOLVING = base_rule({"type": "match"}, resolve_after="5m")
S = 1_000


def T(at, org="o1"):
    return ("trigger", at, org)


def R(at, org="o1"):
    return ("resolve", at, org)


def result(rule, transitions):
    alerts = [
        Alert(rule.id, a, (("org_id", org),), at, Evidence(value=1)) for a, at, org in transitions
    ]
    return BacktestResult(messages=[pager_message(rule, a) for a in alerts], rules={rule.id: rule})


@pytest.mark.parametrize(
    ("old_rule", "old", "new_rule", "new", "added", "removed", "moved", "unchanged"),
    [
        pytest.param(COND, [T(0), R(10 * MIN)], COND, [T(0), R(10 * MIN)], [], [], [], 1,
                     id="same"),
        pytest.param(COND, [T(0), R(10 * MIN)], COND, [T(18 * S), R(10 * MIN)], [], [],
                     [(0, 18 * S)], 0, id="moved by 18 s"),
        pytest.param(COND, [T(18 * S), R(10 * MIN)], COND, [T(0), R(9 * MIN)], [], [],
                     [(18 * S, 0)], 0, id="moved earlier"),
        pytest.param(COND, [], COND, [T(0), R(5 * MIN)], [0], [], [], 0, id="added"),
        pytest.param(COND, [T(0), R(5 * MIN)], COND, [], [], [0], [], 0, id="removed"),
        pytest.param(COND, [T(0), R(5 * MIN)], COND, [T(0), R(5 * MIN), T(HOUR), R(70 * MIN)],
                     [HOUR], [], [], 1, id="one more later"),
        pytest.param(COND, [T(0), R(30 * MIN)], COND,
                     [T(0), R(10 * MIN), T(15 * MIN), R(30 * MIN)], [15 * MIN], [], [], 1,
                     id="split into two: the second is added"),
        pytest.param(COND, [T(0), R(10 * MIN), T(15 * MIN), R(30 * MIN)], COND,
                     [T(0), R(30 * MIN)], [], [15 * MIN], [], 1,
                     id="two merged: the second is removed"),
        pytest.param(COND, [T(MIN), R(30 * MIN)], COND,
                     [T(0), R(10 * MIN), T(15 * MIN), R(30 * MIN)], [15 * MIN], [],
                     [(MIN, 0)], 0, id="split and moved"),
        pytest.param(COND, [T(0)], COND, [T(40 * MIN)], [], [], [(0, 40 * MIN)], 0,
                     id="open till the end of input overlaps a later trigger"),
        pytest.param(COND, [T(0), R(10 * MIN)], COND, [T(40 * MIN)], [40 * MIN], [0], [], 0,
                     id="resolved before the other began"),
        pytest.param(COND, [T(0), R(10 * MIN)], COND, [T(10 * MIN), R(20 * MIN)], [10 * MIN],
                     [0], [], 0, id="touching spans do not overlap"),
        pytest.param(COND, [T(0, "o1")], COND, [T(0, "o2")], [0], [0], [], 0,
                     id="another group is another incident"),
        pytest.param(OCC, [T(0)], OCC, [T(0)], [], [], [], 1, id="occurrence same"),
        pytest.param(OCC, [T(0)], OCC, [T(18 * S)], [], [], [(0, 18 * S)], 0,
                     id="occurrence moved by 18 s"),
        pytest.param(OCC, [T(5 * MIN)], OCC, [T(0)], [], [], [(5 * MIN, 0)], 0,
                     id="occurrence moved earlier within the throttle"),
        pytest.param(OCC, [T(0)], OCC, [T(10 * MIN)], [10 * MIN], [0], [], 0,
                     id="occurrence a throttle apart: another page"),
        pytest.param(OCC, [T(0), T(10 * MIN), T(20 * MIN), T(30 * MIN)], OCC_30M,
                     [T(0), T(30 * MIN)], [], [10 * MIN, 20 * MIN], [], 2,
                     id="a longer throttle removes pages"),
        pytest.param(OCC_RESOLVING, [T(0), T(10 * MIN), R(15 * MIN)], OCC_RESOLVING,
                     [T(0), R(5 * MIN)], [], [], [], 1,
                     id="a trigger while its incident is open is part of it"),
        pytest.param(OCC_RESOLVING, [T(0), R(5 * MIN)], OCC, [T(2 * MIN)], [], [],
                     [(0, 2 * MIN)], 0, id="resolve_after dropped: spans of each side's rule"),
    ],
)  # fmt: skip
def test_pages_are_matched_by_incident(
    old_rule, old, new_rule, new, added, removed, moved, unchanged
):
    diff = page_diff(result(old_rule, old), result(new_rule, new))
    assert [i.start for i in diff.added] == added
    assert [i.start for i in diff.removed] == removed
    assert [(m.old.start, m.new.start) for m in diff.moved] == moved
    assert [m.shift_ms for m in diff.moved] == [b - a for a, b in moved]
    assert diff.unchanged == unchanged


def test_diff_lists_are_in_rule_group_time_order():
    other = base_rule({"type": "match"}, id="a_first")
    old = result(OCC, [T(0, "o2"), T(0, "o1")])
    old.messages += result(other, [T(HOUR)]).messages
    old.rules[other.id] = other
    new = result(OCC, [T(2 * HOUR, "o1"), T(HOUR, "o3"), T(0, "o3")])
    diff = page_diff(old, new)
    for listed in (diff.added, diff.removed):
        keys = [(i.rule_id, i.dedup_key, i.start) for i in listed]
        assert len(keys) == 3 and keys == sorted(keys)
    assert [i.rule_id for i in diff.removed] == ["a_first", "r1", "r1"]
