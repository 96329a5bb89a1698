"""Semantics at the edges: each table row is a documented answer (docs/rules.md).

These tests bind any engine: the pages (action, group, event time, value) must be exactly
these, whatever the batching and whatever the allowed lateness when the input is in order.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.helpers import base_rule, ev, run

S = 1000
MIN = 60 * S

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
    r = base_rule({"type": "match"}, group_by=["flagged"])
    out = run(r, [ev(0, flagged=True), ev(1, flagged=1)])
    groups = [a.group for a in out if a.action == "trigger"]
    assert groups == [(("flagged", True),), (("flagged", 1),)]
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
