"""distinct, ratio, spike, match: firing, quiet and clearing cases."""

from tests.unit.helpers import actions, base_rule, ev, run


def filler(start, stop, step=20_000):
    return [ev(t, "filler") for t in range(start, stop, step)]


# -- distinct ------------------------------------------------------------------------------
DISTINCT = {"type": "distinct", "field": "account_id", "window": "10m", "threshold": 3}


def test_distinct_counts_values_not_events():
    r = base_rule(DISTINCT, group_by=["ip"])
    same = [ev(i * 1000, ip="1.1.1.1", account_id="a") for i in range(50)]
    assert run(r, same) == []
    many = [ev(i * 1000, ip="1.1.1.1", account_id=f"a{i}") for i in range(4)]
    out = run(r, many)
    assert actions(out) == [("trigger", "1.1.1.1", 3000)]
    assert out[0].evidence.value == 4
    assert out[0].evidence.top["account_id"][0] == ("a0", 1)


def test_distinct_values_expire_individually():
    r = base_rule(DISTINCT, group_by=["ip"], resolve_after="0s")
    events = [ev(i * 1000, ip="1.1.1.1", account_id=f"a{i}") for i in range(4)]
    # keep a0 alive: it stays; a1..a3 expire after the window -> 2 values left: resolve.
    events += [ev(300_000, ip="1.1.1.1", account_id="a0")]
    events += filler(310_000, 800_000)
    out = run(r, events)
    assert [a for a, _, _ in actions(out)] == ["trigger", "resolve"]
    assert out[1].evidence.value == 1
    # a3 was last seen at 3s (bucket 3 of 10 s): leaves at (3 // 10 + 60 + 1) * 10 s.
    assert out[1].at == 610_000


def test_distinct_ignores_events_without_the_field():
    r = base_rule(DISTINCT, group_by=["ip"])
    assert run(r, [ev(i, ip="1.1.1.1") for i in range(10)]) == []


# -- ratio ---------------------------------------------------------------------------------
RATIO = {
    "type": "ratio",
    "numerator": {"flagged": True},
    "window": "5m",
    "threshold": 0.3,
    "min_count": 10,
}


def test_ratio_needs_min_count():
    r = base_rule(RATIO)
    assert run(r, [ev(i * 100, flagged=True) for i in range(9)]) == []


def test_ratio_fires_and_reports_share():
    r = base_rule(RATIO)
    events = [ev(i * 100, flagged=i % 2 == 0) for i in range(20)]
    out = run(r, events)
    assert out and out[0].action == "trigger"
    assert 0.3 < out[0].evidence.value <= 1


def test_ratio_quiet_when_share_low():
    r = base_rule(RATIO)
    assert run(r, [ev(i * 100, flagged=i % 10 == 0) for i in range(200)]) == []


def test_ratio_can_become_true_by_draining():
    # 40 clean events early, then 10 flagged later: when the clean bucket drains the share jumps.
    r = base_rule(RATIO)
    events = [ev(0, flagged=False) for _ in range(40)]
    events += [ev(200_000 + i, flagged=True) for i in range(10)]
    events += filler(210_000, 400_000)
    out = run(r, events)
    assert actions(out)[0] == ("trigger", "o1", (0 + 60 + 1) * 5_000)


# -- spike ---------------------------------------------------------------------------------
SPIKE = {"type": "spike", "window": "1m", "factor": 3, "baseline_windows": 3, "min_count": 5}


def steady(org, start, stop, every):
    return [ev(t, org) for t in range(start, stop, every)]


def test_spike_fires_when_current_far_above_baseline():
    r = base_rule(SPIKE)
    events = steady("o1", 0, 300_000, 10_000) + steady("o1", 300_000, 330_000, 500)
    out = run(r, events)
    assert out and out[0].action == "trigger"
    assert out[0].evidence.extra["baseline"] > 0
    assert out[0].evidence.value >= 3 * out[0].evidence.extra["baseline"]


def test_spike_quiet_for_steady_traffic():
    r = base_rule(SPIKE)
    assert run(r, steady("o1", 0, 900_000, 1_000)) == []


def test_spike_new_group_never_fires_before_history():
    r = base_rule(SPIKE)
    events = steady("o1", 0, 100_000, 10_000) + steady("o1", 100_000, 130_000, 100)
    assert run(r, events) == []


def test_spike_down_fires_when_traffic_stops():
    r = base_rule({**SPIKE, "direction": "down"})
    events = steady("o1", 0, 400_000, 1_000) + filler(400_000, 600_000)
    out = run(r, events)
    assert out and out[0].action == "trigger" and out[0].group == (("org_id", "o1"),)


# -- match ---------------------------------------------------------------------------------
def test_match_each_occurrence_throttled_per_group():
    r = base_rule({"type": "match"}, where={"flagged": True}, throttle="1m")
    events = [
        ev(0, flagged=True),
        ev(10_000, flagged=True),
        ev(70_000, flagged=True),
        ev(80_000, "o2", flagged=True),
        ev(90_000, flagged=False),
    ]
    out = run(r, events)
    assert actions(out) == [
        ("trigger", "o1", 0),
        ("trigger", "o1", 70_000),
        ("trigger", "o2", 80_000),
    ]
    assert out[0].evidence.sample_event_ids == (events[0]["event_id"],)


def test_match_resolves_only_with_resolve_after():
    r = base_rule({"type": "match"}, where={"flagged": True}, resolve_after="5m")
    out = run(r, [ev(0, flagged=True), ev(60_000, flagged=True)] + filler(100_000, 500_000))
    assert actions(out) == [("trigger", "o1", 0), ("resolve", "o1", 360_000)]
