"""threshold: aggregates over a sliding event-time window, trigger and drain-driven resolve."""

import orjson
import pytest

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from tests.unit.helpers import actions, base_rule, ev, run

WINDOW = {"type": "threshold", "window": "60s", "threshold": 10}


def filler(start, stop):
    """Sparse events of another org that move event time forward."""
    return [ev(t, "filler") for t in range(start, stop, 20_000)]


def burst(n, start=0, every=100, org="o1", **fields):
    return [ev(start + i * every, org, **fields) for i in range(n)]


def test_count_triggers_on_the_crossing_event():
    r = base_rule(WINDOW)
    events = burst(11)
    out = run(r, events)
    assert actions(out) == [("trigger", "o1", 1000)]
    assert out[0].evidence.value == 11
    assert out[0].evidence.window_start == 1000 - 60_000
    # Samples are collected once the group is warm (half the threshold): events 5..11.
    assert out[0].evidence.sample_event_ids == tuple(e["event_id"] for e in events[4:11])


def test_samples_are_the_last_ten_of_a_big_burst():
    r = base_rule({**WINDOW, "threshold": 100})
    events = burst(101)
    (alert,) = run(r, events)
    assert alert.evidence.sample_event_ids == tuple(e["event_id"] for e in events[-10:])


def test_count_at_threshold_does_not_fire_with_gt_but_does_with_gte():
    assert run(base_rule(WINDOW), burst(10)) == []
    out = run(base_rule({**WINDOW, "op": ">="}), burst(10))
    assert actions(out) == [("trigger", "o1", 900)]


def test_resolves_after_window_drains_without_new_events_from_the_group():
    r = base_rule(WINDOW, resolve_after="2m")
    # o1 bursts at t=0..1s; o2 keeps time moving (no more o1 events).
    events = burst(11) + filler(5_000, 400_000)
    out = run(r, events)
    # Bucket 0 (events at 0..999) leaves at (0+60+1)*1000 = 61s: count drops to 1 -> false.
    assert actions(out) == [("trigger", "o1", 1000), ("resolve", "o1", 61_000 + 120_000)]
    assert out[1].evidence.value == 1  # the value that cleared it


def test_resolve_fires_when_the_stream_clock_reaches_it():
    r = base_rule(WINDOW, resolve_after="2m")
    events = burst(11) + filler(5_000, 200_000)
    # Due at 181s; the highest event time is 185s: the condition it times is judged on the
    # stream clock, so the resolve does not wait for the watermark (155s).
    expected = [("trigger", "o1", 1000), ("resolve", "o1", 181_000)]
    assert actions(run(r, events, flush=False)) == expected
    assert actions(run(r, events[:-5], flush=False)) == expected[:1]


def test_no_second_trigger_while_holding_and_throttle_delays_next_episode():
    r = base_rule(WINDOW, resolve_after="0s", throttle="10m")
    events = (
        burst(30) + burst(30, start=120_000) + burst(30, start=700_000) + filler(710_000, 800_000)
    )
    out = run(r, events)
    # Episode 2 starts at 121s within throttle: pending until 1000+600000, but it cleared
    # before then; episode 3 at 701s is past the throttle.
    assert [a for a, _, _ in actions(out)] == ["trigger", "resolve", "trigger", "resolve"]
    assert out[2].at == 701_000


def test_for_holds_before_firing():
    r = base_rule({**WINDOW, "threshold": 5}, **{"for": "30s"})
    events = burst(100, every=1000) + [ev(200_000, "o2")]
    out = run(r, events)
    assert actions(out)[0] == ("trigger", "o1", 5_000 + 30_000)


def test_for_cancelled_when_condition_clears_first():
    r = base_rule({**WINDOW, "threshold": 5}, **{"for": "90s"})
    events = burst(6, every=1000) + filler(10_000, 300_000)
    assert run(r, events) == []


@pytest.mark.parametrize(
    ("aggregate", "values", "threshold", "expected"),
    [
        ("sum", [100, 200, 300], 500, 600),
        ("avg", [10, 20, 90], 35, 40.0),
        ("max", [5, 90, 1], 50, 90),
        ("min", [5, 3, 1], 0, 5),
    ],
)
def test_field_aggregates(aggregate, values, threshold, expected):
    r = base_rule({**WINDOW, "aggregate": aggregate, "field": "tokens", "threshold": threshold})
    out = run(r, [ev(i * 10, tokens=v) for i, v in enumerate(values)])
    assert out and out[0].action == "trigger"
    assert out[0].evidence.value == expected


def test_min_recomputed_when_a_bucket_drains():
    r = base_rule(
        {**WINDOW, "aggregate": "min", "field": "tokens", "op": "<", "threshold": 3},
        resolve_after="0s",
    )
    events = [ev(0, tokens=1), ev(30_000, tokens=9)] + [
        ev(t, "o2") for t in range(40_000, 100_000, 1000)
    ]
    out = run(r, events)
    assert actions(out) == [("trigger", "o1", 0), ("resolve", "o1", 61_000)]
    assert out[1].evidence.value == 9


def test_events_without_group_field_or_numeric_value_are_skipped():
    r = base_rule(
        {**WINDOW, "aggregate": "sum", "field": "tokens", "threshold": 5}, group_by=["tier"]
    )
    events = [ev(0, tier="a", tokens="lots"), ev(1, tier="a", tokens=True), ev(2, tokens=10)]
    assert run(r, events) == []


def engine(r, lateness_ms=30_000):
    return CoreEngine([r], EngineSettings(allowed_lateness_ms=lateness_ms))


def feed(engine, events):
    return engine.process([orjson.dumps(e) for e in events]).alerts


def test_late_events_counted_not_applied():
    r = base_rule({**WINDOW, "threshold": 2})
    eng = engine(r, lateness_ms=1000)
    feed(eng, [ev(100_000, "o2")])
    out = feed(eng, [ev(1_000), ev(2_000), ev(3_000)])  # all older than the watermark
    assert out == [] and eng.late == 3
    assert [c.late for c in eng.counts()] == [3]


def test_group_cap_evicts_least_recently_active_group():
    r = base_rule({**WINDOW, "threshold": 2}, max_groups=2)
    eng = engine(r)
    feed(eng, [ev(0, "a"), ev(1, "b"), ev(2, "a"), ev(3, "c")])
    assert eng.group_counts() == {"r1": 2}
    assert [c.cap_evictions for c in eng.counts()] == [1]
    # b was the least recently active: a kept its two events, b starts again from nothing
    assert actions(feed(eng, [ev(4, "a")])) == [("trigger", "a", 4)]
    assert feed(eng, [ev(5, "b"), ev(6, "b")]) == []


def test_state_expires_with_the_window():
    r = base_rule(WINDOW)
    eng = engine(r)
    feed(eng, [ev(i, f"org{i}") for i in range(1000)])
    assert eng.group_counts() == {"r1": 1000}
    feed(eng, [ev(200_000, "late-comer")])
    assert eng.group_counts() == {"r1": 1}


def test_max_of_a_cold_group_is_exact_when_it_warms_up():
    # threshold 100 -> warm at 50. A 40 leaves the window while the group is cold; later a 60
    # arrives: the max is 60 (not the 40 that left), which does not fire; a 101 does.
    r = base_rule({**WINDOW, "aggregate": "max", "field": "tokens", "threshold": 100})
    events = [ev(0, tokens=40), ev(70_000, tokens=10), ev(80_000, tokens=60)]
    eng = engine(r)
    assert feed(eng, events) == []
    out = feed(eng, [ev(90_000, tokens=101)])
    assert [(a.action, a.evidence.value) for a in out] == [("trigger", 101)]
