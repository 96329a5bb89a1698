"""bench.state's and bench.latency's pieces that need no Kafka: the generated rule and events,
reading the worker's log and /metrics, percentiles, live traffic with probes, the summaries."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest

from bench.latency.shared import (
    latency_summary,
    live_events,
    percentile,
    probe_every,
    probes_in,
)
from bench.latency.shared import summary as latency_result
from bench.state.__main__ import summary as state_result
from bench.state.workload import (
    END_GAP_MS,
    RULE_ID,
    SPAN_MS,
    caught_up_at,
    consumed,
    end_event,
    group_total,
    group_value,
    histogram_totals,
    iter_events,
    lags,
    log_phases,
    mix32,
    write_rules_dir,
)
from signalfire.engine.core import CoreEngine
from signalfire.generate import DEFAULT_START_MS
from signalfire.rules import load_rules

# -- bench.state: rule and events ---------------------------------------------------------------


def test_mix32_is_a_bijection_on_a_sample():
    values = {mix32(i) for i in range(1 << 16)}
    assert len(values) == 1 << 16
    assert all(0 <= v < 1 << 32 for v in values)


@pytest.mark.parametrize("field", ["account_id", "ip"])
def test_group_values_are_distinct_and_shaped_like_the_field(field):
    values = [group_value(field, i) for i in range(20_000)]
    assert len(set(values)) == len(values)
    if field == "ip":
        assert all(0 <= int(octet) <= 255 for v in values for octet in v.split("."))
        assert all(v.count(".") == 3 for v in values)
    else:
        assert all(v.startswith("acct_") and len(v) == 13 for v in values)


def test_generated_rules_dir_holds_one_count_rule_over_the_field(tmp_path):
    (tmp_path / "stale.yaml").write_text("not a rule: [")
    write_rules_dir(tmp_path, "ip", 3_000_000)
    [rule] = load_rules([tmp_path]).rules
    assert rule.id == RULE_ID
    assert rule.group_names == ("ip",)
    assert rule.detect.type == "threshold" and rule.detect.aggregate == "count"
    assert rule.detect.window_ms == 60_000
    assert rule.max_groups is not None and rule.max_groups > 3_000_000


@pytest.mark.parametrize("field", ["account_id", "ip"])
def test_events_give_every_group_one_live_window_entry(tmp_path, field):
    groups = 5_000
    rules = load_rules([write_rules_dir(tmp_path, field, groups)]).rules
    events = list(iter_events(groups, field))
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert events[-1]["ts"] < DEFAULT_START_MS + SPAN_MS
    engine = CoreEngine(rules)
    step = engine.process([json.dumps(e).encode() for e in events])
    assert not step.dead_letters and step.late == 0
    # the end-of-data events move time past the lateness but not past the window
    engine.process([json.dumps(end_event(p)).encode() for p in range(4)])
    assert end_event(0)["ts"] == DEFAULT_START_MS + SPAN_MS + END_GAP_MS
    assert engine.group_counts() == {RULE_ID: groups}


def test_an_engine_without_rules_takes_batches():
    # the input partitions' engine when every rule groups by a repartitioned field
    engine = CoreEngine([])
    step = engine.process([b'{"event_id": "e", "ts": 1, "org_id": "o"}', b"{"])
    assert step.alerts == [] and [d.index for d in step.dead_letters] == [1]
    assert engine.flush() == []


# -- bench.state: the worker's log and /metrics -------------------------------------------------

LOG = """\
<frozen runpy>:128: RuntimeWarning: something
[2026-11-23 14:57:32,675] [1] [INFO] [^Worker]: Starting...
[2026-11-23 14:57:37,413] [1] [INFO] Joined group 'g-worker' (generation 2) with member_id x
[2026-11-23 14:57:37,466] [1] [INFO] Joined group 'g' (generation 3) with member_id y
[2026-11-23 14:57:37,469] [1] [INFO] signalfire worker: 1 rule(s), consuming t, t.by-ip
[2026-11-23 14:57:41,441] [1] [INFO] restored t.by-ip[3] at offset 957 (committed 0, 0 page(s))
[2026-11-23 14:57:41,442] [1] [INFO] restored t[2] at offset 100 (committed 250, 0 page(s))
[2026-11-23 14:57:41,443] [1] [INFO] restored t[1] at offset 100 (committed None, 0 page(s))
[2026-11-23 14:57:41,500] [1] [INFO] rebuilding t[0] from the start up to offset 40
"""


def test_log_phases_reads_start_up_steps_restore_offsets_and_replay():
    phases = log_phases(LOG)
    assert phases["faust_joined"] - phases["first_log"] == pytest.approx(4.738)
    assert phases["started"] - phases["first_log"] == pytest.approx(4.794)
    assert phases["restored"] - phases["first_log"] == pytest.approx(8.825)
    assert phases["starts"] == {("t.by-ip", 3): 957, ("t", 2): 100, ("t", 1): 100, ("t", 0): 0}
    assert phases["replay_records"] == 150 + 40


def test_log_phases_of_an_empty_log():
    phases = log_phases("")
    assert phases["first_log"] is None and phases["restored"] is None
    assert phases["starts"] == {} and phases["replay_records"] == 0


METRICS = """\
# HELP signalfire_events_consumed_total Records consumed.
# TYPE signalfire_events_consumed_total counter
signalfire_events_consumed_total{topic="t"} 1000.0
signalfire_events_consumed_total{topic="t.by-ip"} 24.0
# HELP signalfire_rule_groups Groups currently tracked by a rule.
# TYPE signalfire_rule_groups gauge
signalfire_rule_groups{rule="a"} 700.0
signalfire_rule_groups{rule="b"} 300.0
# HELP signalfire_consumer_lag_records Records behind the end.
# TYPE signalfire_consumer_lag_records gauge
signalfire_consumer_lag_records{partition="0",topic="t"} 0.0
signalfire_consumer_lag_records{partition="0",topic="t.by-ip"} 3.0
# HELP signalfire_checkpoint_duration_seconds Time to checkpoint state.
# TYPE signalfire_checkpoint_duration_seconds histogram
signalfire_checkpoint_duration_seconds_bucket{le="0.1"} 1.0
signalfire_checkpoint_duration_seconds_bucket{le="+Inf"} 3.0
signalfire_checkpoint_duration_seconds_count 3.0
signalfire_checkpoint_duration_seconds_sum 1.5
"""


def test_metrics_are_read_per_family_and_label():
    assert consumed(METRICS) == 1024
    assert group_total(METRICS) == 1000
    assert lags(METRICS) == {("t", 0): 0, ("t.by-ip", 0): 3}
    assert histogram_totals(METRICS, "signalfire_checkpoint_duration_seconds") == (3, 1.5)
    assert consumed("") == 0 and lags("") == {}


def test_caught_up_is_the_first_sample_reaching_the_records_to_consume():
    timeline = [(0.5, 0.0), (1.0, 10.0), (1.5, 40.0), (2.0, 40.0)]
    assert caught_up_at(timeline, 40) == 1.5
    assert caught_up_at(timeline, 0) == 0.5
    assert caught_up_at(timeline, 41) is None


def _memory(groups: int, rss_per_group: float = 130.0) -> dict[str, dict[str, float]]:
    rss = {"groups": groups, "rss_bytes": rss_per_group * groups, "snapshot_bytes": 25.0 * groups,
           "zlib_bytes": 7.0 * groups, "save_s": 0.05, "save_again_s": 0.02, "encode_s": 0.1,
           "decode_s": 0.1}  # fmt: skip
    return {"rss": rss}


def test_state_summary_judges_live_memory_and_restarts():
    out = state_result(1000, "ip", _memory(1000), None)
    assert out["rss_bytes_per_group"] == 130
    assert out["snapshot_bytes_per_group"] == 25
    assert (out["snapshot_save_s"], out["snapshot_save_again_s"]) == (0.05, 0.02)
    assert out["memory_target_met"] is False  # RSS growth is over 100 B per group
    assert state_result(1000, "ip", _memory(1000, 90.0), None)["memory_target_met"] is True
    assert "kafka" not in out
    assert "kafka" not in out
    restarts = {"kill9": {"caught_up_s": 12.5}, "sigterm": {"caught_up_s": 3.6}}
    out = state_result(1000, "ip", _memory(1000), restarts)
    assert out["restart_target_met"] is False
    restarts["kill9"]["caught_up_s"] = 9.0
    assert state_result(1000, "ip", _memory(1000), restarts)["restart_target_met"] is True
    json.dumps(out)


# -- bench.latency ------------------------------------------------------------------------------


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 0.999) == 100
    assert percentile([7.0], 0.99) == 7
    assert math.isnan(percentile([], 0.5))


def test_latency_summary_shape():
    out = latency_summary([float(v) for v in range(1, 2001)])
    assert out == {"samples": 2000, "p50_ms": 1000, "p99_ms": 1980, "p999_ms": 1998,
                   "max_ms": 2000}  # fmt: skip
    empty = latency_summary([])
    assert empty["samples"] == 0 and empty["p99_ms"] is None


def test_probes_come_at_about_the_asked_rate_whatever_the_traffic():
    assert probe_every(10_000, 100) == 100
    assert probe_every(50, 100) == 1
    for total, warmup, every in itertools.product((0, 1, 9, 10, 11, 250), (0, 1, 5, 10), (1, 3, 7)):
        brute = sum(1 for i in range(warmup, total) if i % every == 0)
        assert probes_in(total, warmup, every) == brute, (total, warmup, every)


def test_live_events_are_stamped_renamed_per_pass_and_probed_after_warmup():
    pool: list[dict[str, Any]] = [
        {"event_id": f"e{i}", "ts": 0, "org_id": "o", "attrs": {"k": i}} for i in range(4)
    ]
    ticks = itertools.count(1000)
    events = list(itertools.islice(live_events(pool, 3, 5, clock=lambda: next(ticks)), 10))
    assert [e["ts"] for e in events] == [1000_000 + 1000 * i for i in range(10)]
    assert len({e["event_id"] for e in events}) == 10
    assert [i for i, e in enumerate(events) if e["attrs"].get("probe")] == [6, 9]
    assert events[6]["attrs"]["k"] == 2  # the event's own attrs are kept
    assert all(e["ts"] == 0 and "probe" not in e["attrs"] for e in pool)


def test_latency_summary_judges_the_half_rate_level():
    rows = [{"level": 0.1, "p99_ms": 90.0}, {"level": 0.5, "p99_ms": 240.0}]
    out = latency_result(10_000.4, "given", {}, rows)
    assert out["max_rate"] == 10_000 and out["target_met"] is True
    assert latency_result(10_000, "given", {}, [{"level": 0.5, "p99_ms": 251.0}])["target_met"] is (
        False
    )
    assert (
        latency_result(10_000, "given", {}, [{"level": 0.5, "p99_ms": None}])["target_met"] is None
    )
    assert latency_result(10_000, "given", {}, [])["target_met"] is None
    json.dumps(out)
