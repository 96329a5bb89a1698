"""Semantics at the edges: each table row is a documented answer (docs/rules.md).

These tests bind any engine: the pages (action, group, event time, value) must be exactly
these, whatever the batching and whatever the allowed lateness when the input is in order.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signalfire.engine.core import CoreEngine
from tests.unit.helpers import base_rule, ev, run

S = 1000
MIN = 60 * S
# Partials a sequence keeps per group (docs/rules.md).
MAX_PARTIALS = 32

LATENESSES = (0, 30 * S, 10 * MIN)


def pages(alerts: list[Any]) -> list[tuple[str, Any, int, Any]]:
    return [
        (a.action, a.group[0][1] if len(a.group) == 1 else a.group, a.at, a.evidence.value)
        for a in alerts
    ]


# -- 1. timers do not depend on lateness ---------------------------------------------------
THRESHOLD_3_IN_10S = {"type": "threshold", "window": "10s", "op": ">=", "threshold": 3}

TIMER_CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[tuple[str, Any, int]]]] = [
    (
        "a `for` timer that fell due before the window drained fires",
        {"detect": THRESHOLD_3_IN_10S, "for": "5s"},
        [ev(1_000_000, "o1") for _ in range(3)] + [ev(1_060_000, "o2")],
        [("trigger", "o1", 1_005_000)],
    ),
    (
        "a throttle-deferred trigger whose episode outlasts the throttle fires at its end",
        {"detect": THRESHOLD_3_IN_10S, "throttle": "1m", "resolve_after": "0s"},
        [ev(t * S, "o1") for t in range(0, 3)]
        + [ev(t * S, "o1") for t in range(30, 76)]
        + [ev(200 * S, "o2")],
        [
            ("trigger", "o1", 2 * S),
            # the 10 s window (61 buckets of 166 ms) drops the event at 0 at 10.292 s
            ("resolve", "o1", 10_292),
            # the second episode starts at 32 s, inside the throttle that ends at 62 s
            ("trigger", "o1", 62 * S),
            # the event at 73 s leaves the window at 83.166 s: two events are left
            ("resolve", "o1", 83_166),
        ],
    ),
    (
        "two episodes 19.7 s apart stay two with resolve_after 5s",
        {"detect": THRESHOLD_3_IN_10S, "resolve_after": "5s"},
        [ev(t, "o1") for t in (0, 1 * S, 2 * S)]
        + [ev(t, "o1") for t in (29_866, 30_866, 31_866)]
        + [ev(100 * S, "o2")],
        [
            ("trigger", "o1", 2 * S),
            ("resolve", "o1", 15_292),
            ("trigger", "o1", 31_866),
            ("resolve", "o1", 45_006),
        ],
    ),
]


@pytest.mark.parametrize("lateness", LATENESSES)
@pytest.mark.parametrize(("name", "top", "events", "expected"), TIMER_CASES)
def test_timers_fire_in_event_time_whatever_the_lateness(name, top, events, expected, lateness):
    detect = top["detect"]
    others = {k: v for k, v in top.items() if k != "detect"}
    out = run(base_rule(detect, **others), events, lateness_ms=lateness)
    assert [(a, g, t) for a, g, t, _ in pages(out)] == expected, name


# -- 4. occurrence rules: one resolve per trigger at most ------------------------------------
OCCURRENCE_CASES: list[tuple[str, dict[str, Any], list[int], list[tuple[str, int]]]] = [
    (
        "suppressed occurrences after the resolve send nothing",
        {"resolve_after": "1m"},
        [0, 2 * MIN, 4 * MIN],
        [("trigger", 0), ("resolve", 1 * MIN)],
    ),
    (
        "occurrences while the page is open move its one resolve",
        {"resolve_after": "3m"},
        [0, 2 * MIN, 4 * MIN],
        [("trigger", 0), ("resolve", 7 * MIN)],
    ),
    (
        "each trigger gets its own resolve",
        {"resolve_after": "1m", "throttle": "0s"},
        [0, 2 * MIN, 4 * MIN],
        [
            ("trigger", 0),
            ("resolve", 1 * MIN),
            ("trigger", 2 * MIN),
            ("resolve", 3 * MIN),
            ("trigger", 4 * MIN),
            ("resolve", 5 * MIN),
        ],
    ),
]


@pytest.mark.parametrize(("name", "top", "times", "expected"), OCCURRENCE_CASES)
def test_occurrence_rules_send_at_most_one_resolve_per_trigger(name, top, times, expected):
    r = base_rule({"type": "match"}, where={"event_type": "request"}, **top)
    events = [ev(t, "o1") for t in times] + [ev(20 * MIN, "o2", event_type="other")]
    out = run(r, events)
    assert [(a.action, a.at) for a in out] == expected, name


def test_a_new_value_resolve_follows_its_trigger_only():
    r = base_rule(
        {"type": "new_value", "field": "country", "warmup": "0s"},
        resolve_after="1m",
    )
    events = [
        ev(0, "o1", country="DE"),
        ev(2 * MIN, "o1", country="FR"),  # new, but inside the 10 min throttle: suppressed
        ev(20 * MIN, "o2", country="DE"),
    ]
    out = [a for a in run(r, events) if a.group[0][1] == "o1"]
    assert [(a.action, a.at) for a in out] == [("trigger", 0), ("resolve", 1 * MIN)]


# -- 5. new_value without warmup alerts on a new group's first value -------------------------
@pytest.mark.parametrize(
    ("warmup", "expected"),
    [
        ("0s", [("trigger", "o1", 0, "DE"), ("trigger", "o1", 5 * MIN, "FR")]),
        ("1m", [("trigger", "o1", 5 * MIN, "FR")]),
        ("10m", []),
    ],
)
def test_new_value_warmup_bounds(warmup, expected):
    r = base_rule(
        {"type": "new_value", "field": "country", "lookback": "1d", "warmup": warmup},
        throttle="0s",
    )
    out = run(r, [ev(0, "o1", country="DE"), ev(5 * MIN, "o1", country="FR")])
    assert pages(out) == expected


# -- 6. values are JSON-typed everywhere ----------------------------------------------------
def test_distinct_counts_json_values_by_type():
    r = base_rule({"type": "distinct", "field": "v", "window": "1m", "threshold": 2})
    events = [ev(0, v=1), ev(1, v=1.0), ev(2, v=True), ev(3, v="1")]
    out = run(r, events)
    assert pages(out)[:1] == [("trigger", "o1", 3, 3)]
    shown = out[0].evidence.top["v"]
    assert sorted((repr(v), n) for v, n in shown) == [("'1'", 1), ("1", 1), ("True", 1)]


def test_group_by_keeps_true_and_1_apart():
    r = base_rule(
        {"type": "threshold", "window": "1m", "op": ">=", "threshold": 2},
        group_by=["tier"],
    )
    events = [ev(0, tier=1), ev(1, tier=True), ev(2, tier=1.0), ev(3, tier="1")]
    out = run(r, events)
    assert [(a.action, a.group) for a in out if a.action == "trigger"] == [
        ("trigger", (("tier", 1),))
    ]
    assert type(out[0].group[0][1]) is int


def test_a_boolean_group_value_is_paged_as_a_boolean():
    r = base_rule({"type": "match"}, group_by=["tier"])
    out = run(r, [ev(0, tier=True), ev(1, tier=1)])
    groups = [a.group for a in out if a.action == "trigger"]
    assert groups == [(("tier", True),), (("tier", 1),)]
    assert type(groups[0][0][1]) is bool
    assert type(groups[1][0][1]) is int


def test_new_value_keeps_true_and_1_apart():
    r = base_rule({"type": "new_value", "field": "v", "warmup": "0s"}, throttle="0s")
    out = run(r, [ev(0, v=1), ev(1, v=True), ev(2, v=1.0)])
    assert [(a.evidence.value, type(a.evidence.value)) for a in out] == [(1, int), (True, bool)]
    assert out[1].evidence.extra["known"] == [1]


def test_a_group_seen_as_1_and_1_0_has_one_spelling_and_one_dedup_key():
    from alerting.message import dedup_key

    r = base_rule(
        {"type": "threshold", "window": "10s", "op": ">=", "threshold": 2},
        group_by=["tier"],
        resolve_after="0s",
    )
    out = run(r, [ev(0, tier=1.0), ev(1, tier=1), ev(60_000, tier="x")])
    assert [(a.action, a.group) for a in out] == [
        ("trigger", (("tier", 1),)),
        ("resolve", (("tier", 1),)),
    ]
    assert len({dedup_key(a.rule_id, a.group) for a in out}) == 1


# -- 3. sequence: every partial match that can still complete -------------------------------
SIGNUP_KEY_FLAGGED = {
    "type": "sequence",
    "within": "30m",
    "steps": [
        {"where": {"event_type": "signup"}},
        {"where": {"event_type": "key_created"}},
        {"where": {"event_type": "request", "flagged": True}, "count": 3},
    ],
}


def seq_events(spec: list[tuple[int, str]], account: str = "a1") -> list[dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {
        "signup": {"event_type": "signup"},
        "key": {"event_type": "key_created"},
        "flagged": {"event_type": "request", "flagged": True},
        "clean": {"event_type": "request", "flagged": False},
    }
    return [ev(t, account_id=account, **kinds[kind]) for t, kind in spec]


SEQUENCE_CASES: list[tuple[str, list[tuple[int, str]], list[tuple[str, int]]]] = [
    (
        "a later signup completes after the earliest partial expired",
        [(0, "signup"), (10 * S, "key"), (1000 * S, "signup"), (1010 * S, "key")]
        + [(1900 * S, "flagged")] * 3,
        [("trigger", 1900 * S)],
    ),
    (
        "the earliest partial completes when it can",
        [(0, "signup"), (10 * S, "key"), (1000 * S, "signup")] + [(1100 * S, "flagged")] * 3,
        [("trigger", 1100 * S)],
    ),
    (
        "a second signup before the key does not restart the first partial",
        [(0, "signup"), (100 * S, "signup"), (200 * S, "key")]
        + [(1700 * S, "flagged")] * 2
        + [(1850 * S, "flagged")],
        # the partial of 0 expired at 1800 s; the one of 100 s completes at 1850 s
        [("trigger", 1850 * S)],
    ),
    (
        "after a match the group starts over: the match's events are not reused",
        [(0, "signup"), (10 * S, "signup"), (20 * S, "key")]
        + [(30 * S, "flagged")] * 3
        + [(40 * S, "flagged")] * 3,
        [("trigger", 30 * S)],
    ),
    (
        "steps out of order never match",
        [(0, "key"), (10 * S, "signup")] + [(20 * S, "flagged")] * 3,
        [],
    ),
]


@pytest.mark.parametrize(("name", "spec", "expected"), SEQUENCE_CASES)
def test_sequence_tracks_every_partial_that_can_complete(name, spec, expected):
    r = base_rule(SIGNUP_KEY_FLAGGED, group_by=["account_id"], throttle="0s")
    out = run(r, seq_events(spec))
    assert [(a.action, a.at) for a in out] == expected, name


def test_sequence_bounds_partials_per_group_and_counts_what_it_drops():
    r = base_rule(
        {
            "type": "sequence",
            "within": "1h",
            "steps": [{"where": {"event_type": "fail"}, "count": 100}, {"where": {"ok": True}}],
        },
        group_by=["account_id"],
    )
    engine = CoreEngine([r])

    def feed(events):
        return engine.process([orjson.dumps(e) for e in events]).alerts

    events = [ev(t * S, account_id="a1", event_type="fail") for t in range(MAX_PARTIALS + 5)]
    feed(events)
    assert [c.partials_dropped for c in engine.counts()] == [5]
    # the oldest partials, furthest along, are the ones kept: the 100th failure still completes
    more = [ev((MAX_PARTIALS + 5 + t) * S, account_id="a1", event_type="fail") for t in range(63)]
    out = feed(more) + feed([ev(200 * S, account_id="a1", ok=True)])
    assert [(a.action, a.at) for a in out] == [("trigger", 200 * S)]


ABSENT_AFTER_KEY = {
    "type": "sequence",
    "within": "10m",
    "steps": [
        {"where": {"event_type": "signup"}},
        {"where": {"event_type": "key_created"}},
        {"where": {"event_type": "request"}, "absent": True},
    ],
}


@pytest.mark.parametrize("lateness", LATENESSES)
def test_sequence_absent_step_deadlines_settle_in_event_time(lateness):
    r = base_rule(ABSENT_AFTER_KEY, group_by=["account_id"], throttle="0s")
    spec = [
        (0, "signup"),
        (1 * MIN, "key"),
        # the first deadline (10 min) passes before this signup: it fires first
        (10 * MIN, "signup"),
        (11 * MIN, "key"),
        (12 * MIN, "clean"),  # cancels the second partial
        (30 * MIN, "signup"),
    ]
    out = run(r, seq_events(spec), lateness_ms=lateness)
    assert [(a.action, a.at) for a in out] == [("trigger", 10 * MIN)]


@pytest.mark.parametrize("lateness", LATENESSES)
@pytest.mark.parametrize(("at", "expected"), [(10 * MIN, []), (10 * MIN + 1, [10 * MIN])])
def test_sequence_absent_step_at_the_deadline_is_in_time(lateness, at, expected):
    r = base_rule(ABSENT_AFTER_KEY, group_by=["account_id"])
    spec = [(0, "signup"), (1 * MIN, "key"), (at, "clean"), (20 * MIN, "signup")]
    out = run(r, seq_events(spec), lateness_ms=lateness)
    assert [a.at for a in out] == expected


# -- 2. spike: equal windows on bucket boundaries, no self-baselining -------------------------
def spike_rule(**detect: Any) -> Any:
    spec = {"type": "spike", "window": "1m", "factor": 1.5, "baseline_windows": 4}
    spec.update(detect)
    top = {k: spec.pop(k) for k in ("resolve_after", "throttle") if k in spec}
    return base_rule(spec, **top)


def every(start: int, stop: int, step: int, org: str = "o1") -> list[dict[str, Any]]:
    return [ev(t, org) for t in range(start, stop, step)]


@pytest.mark.parametrize("direction", ["up", "down", "both"])
@pytest.mark.parametrize("step", [30 * S, 10 * S, 1 * S, 7 * S])
def test_spike_never_fires_on_constant_traffic(direction, step):
    out = run(spike_rule(direction=direction), every(0, 15 * MIN, step))
    assert out == []


def brute_spike_windows(events: list[dict[str, Any]], t: int, w: int, k: int) -> list[int]:
    """Counts of [t-w, t) and of the k windows before it, by brute force."""
    return [sum(1 for e in events if t - (j + 1) * w <= e["ts"] < t - j * w) for j in range(k + 1)]


def test_spike_judges_equal_windows_at_each_bucket_boundary():
    # 1 event/10 s for 5 min, then 1/s: the first boundary where [t-1m, t) holds >= 1.5 x the
    # mean of the 4 minutes before it is the trigger, computed here by brute force.
    events = every(0, 5 * MIN, 10 * S) + every(5 * MIN, 6 * MIN, 1 * S)
    expected = None
    for t in range(5 * MIN, 7 * MIN, S):
        counts = brute_spike_windows(events, t, MIN, 4)
        if counts[0] >= 1.5 * (sum(counts[1:]) / 4) and t >= 5 * MIN:
            expected = t
            break
    out = run(spike_rule(), events + [ev(20 * MIN, "o2")])
    assert expected is not None
    assert [(a.action, a.at) for a in out][:1] == [("trigger", expected)]
    counts = brute_spike_windows(events, expected, MIN, 4)
    assert out[0].evidence.value == counts[0]
    assert out[0].evidence.extra["baseline"] == sum(counts[1:]) / 4
    assert out[0].evidence.window_start == expected - MIN
    assert out[0].evidence.window_end == expected


def test_a_sustained_surge_does_not_become_its_own_baseline():
    # a trickle of 1 per 10 s for 6 min, then 1 per second for 20 min: the surge goes on, so
    # the page must stay open (no resolve) until it ends; then it resolves.
    events = (
        every(0, 6 * MIN, 10 * S)
        + every(6 * MIN, 26 * MIN, 1 * S)
        + every(26 * MIN, 40 * MIN, 10 * S)
    )
    out = run(spike_rule(resolve_after="1m"), events)
    assert [a.action for a in out] == ["trigger", "resolve"]
    trigger, resolve = out
    assert trigger.at < 7 * MIN
    assert resolve.at > 26 * MIN
    # the baseline during the episode stayed the one from before it
    assert resolve.evidence.extra["baseline"] == pytest.approx(6.0)


def test_spike_median_baseline_ignores_one_outlier_window():
    # baseline windows of 6, 6, 6 and 60 events: mean 19.5, median 6. The current window has
    # 15 events: a surge against the median (>= 9), not against the mean (>= 29.25).
    events = (
        every(0, 1 * MIN, 10 * S)
        + every(1 * MIN, 2 * MIN, 1 * S)
        + every(2 * MIN, 4 * MIN, 10 * S)
        + every(4 * MIN, 5 * MIN, 4 * S)
        + [ev(10 * MIN, "o2")]
    )
    assert run(spike_rule(), events) == []
    out = run(spike_rule(baseline="median"), events)
    assert [a.action for a in out][:1] == ["trigger"]
    assert out[0].evidence.extra["baseline"] == 6


HOUR = 60 * MIN
DAY = 24 * HOUR


def daily(days: int, busy_hour: int, busy_every: int, quiet_every: int) -> list[dict[str, Any]]:
    """Traffic that is busy for one hour a day and quiet otherwise."""
    out = []
    for d in range(days):
        for h in range(24):
            step = busy_every if h == busy_hour else quiet_every
            out += every(d * DAY + h * HOUR, d * DAY + (h + 1) * HOUR, step)
    return out


def test_a_seasonal_spike_compares_the_same_time_of_day():
    rule_spec = {"window": "1h", "factor": 3, "baseline_windows": 2, "min_count": 10}
    traffic = daily(3, busy_hour=10, busy_every=10 * S, quiet_every=2 * MIN)
    # the busy hour is normal for 10:00: only the plain spike (previous hours) fires on it
    assert run(spike_rule(**rule_spec, seasonality="1d"), traffic) == []
    plain = [a.at for a in run(spike_rule(**rule_spec), traffic) if a.action == "trigger"]
    assert len(plain) == 3
    assert all(d * DAY + 10 * HOUR < t < d * DAY + 11 * HOUR for d, t in enumerate(plain))
    # a surge at 03:00 on the third day is a seasonal spike, judged at the end of the hour
    surge = [e for e in traffic if not 2 * DAY + 3 * HOUR <= e["ts"] < 2 * DAY + 4 * HOUR]
    surge += every(2 * DAY + 3 * HOUR, 2 * DAY + 4 * HOUR, 10 * S)
    surge.sort(key=lambda e: e["ts"])
    out = run(spike_rule(**rule_spec, seasonality="1d"), surge)
    assert [(a.action, a.at) for a in out][:1] == [("trigger", 2 * DAY + 4 * HOUR)]
    assert out[0].evidence.value == 360
    assert out[0].evidence.extra["baseline"] == 30


@pytest.mark.parametrize(
    ("detect", "message"),
    [
        ({"window": "1h", "seasonality": "90m"}, "detect.seasonality: must be a whole number"),
        ({"window": "1h", "seasonality": "1d", "bucket": "1m"}, "a seasonal spike's bucket"),
        ({"window": "1m", "bucket": "7s"}, "spike windows are whole buckets"),
        ({"window": "1m", "baseline": "p90"}, "detect.baseline: expected one of mean, median"),
    ],
)
def test_spike_options_are_checked_at_load(detect, message):
    from signalfire.rules import parse_rule_text

    body = {"id": "r", "title": "t", "severity": "info", "detect": {"type": "spike", "factor": 2}}
    body["detect"].update(detect)  # type: ignore[attr-defined]
    import yaml

    _, problems = parse_rule_text(yaml.safe_dump(body), "r.yaml")
    assert any(message in str(p) for p in problems), [str(p) for p in problems]
