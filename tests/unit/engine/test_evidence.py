"""Evidence that does not mislead: what top values and samples cover, top on every detector,
resolve summaries that read true."""

from __future__ import annotations

from typing import Any

import pytest

from alerting.message import pager_message
from alerting.pager import to_json
from signalfire.timestamps import iso_ms
from tests.unit.helpers import base_rule, ev, run

S = 1000
MIN = 60 * S


def page(rule: Any, alert: Any) -> dict[str, Any]:
    return to_json(pager_message(rule, alert))


# -- top values on occurrence detectors ------------------------------------------------------
def test_top_on_match_is_the_event_s_values():
    r = base_rule({"type": "match"}, where={"flagged": True}, evidence={"top": ["ip", "model"]})
    out = run(r, [ev(0, flagged=True, ip="10.0.0.1", model="m1")])
    assert out[0].evidence.top == {"ip": [("10.0.0.1", 1)], "model": [("m1", 1)]}


def test_top_on_new_value_is_the_event_s_values():
    r = base_rule(
        {"type": "new_value", "field": "country", "warmup": "0s"}, evidence={"top": ["ip"]}
    )
    out = run(r, [ev(0, country="DE", ip="10.0.0.1")])
    assert out[0].evidence.top == {"ip": [("10.0.0.1", 1)]}


def test_top_on_sequence_counts_the_events_of_the_match():
    r = base_rule(
        {
            "type": "sequence",
            "within": "10m",
            "steps": [
                {"where": {"event_type": "signup"}},
                {"where": {"flagged": True}, "count": 3},
            ],
        },
        evidence={"top": ["ip"]},
    )
    events = [
        ev(0, event_type="signup", ip="a"),
        ev(1 * S, flagged=True, ip="b"),
        ev(2 * S, flagged=True, ip="b"),
        ev(3 * S, flagged=False, ip="c"),  # not part of the match
        ev(4 * S, flagged=True, ip="a"),
    ]
    out = run(r, events)
    assert out[0].evidence.top == {"ip": [("a", 2), ("b", 2)]}


# -- the span that top values and samples cover ----------------------------------------------
def test_a_page_states_the_span_its_top_values_cover():
    r = base_rule(
        {"type": "threshold", "window": "1m", "op": ">=", "threshold": 10},
        evidence={"top": ["ip"]},
    )
    # warm at half the threshold: the 5th event (4 s) starts the counting
    events = [ev(t * S, ip="x" if t < 4 else "y") for t in range(10)]
    alert = run(r, events)[0]
    assert alert.evidence.counted_since == 4 * S
    assert alert.evidence.counted_events == 6
    assert alert.evidence.top == {"ip": [("y", 6)]}
    counted = page(r, alert)["payload"]["custom_details"]["evidence"]["counted"]
    assert counted == {"since": iso_ms(4 * S), "events": 6}


# -- resolve summaries read true --------------------------------------------------------------
MIN_BELOW_5 = {
    "type": "threshold",
    "aggregate": "min",
    "field": "n",
    "window": "1m",
    "op": "<",
    "threshold": 5,
}
RESOLVES: list[tuple[str, dict[str, Any], dict[str, Any], list[dict[str, Any]], str]] = [
    (
        "a min threshold whose events all left the window",
        MIN_BELOW_5,
        {"resolve_after": "0s"},
        [ev(0, n=1), ev(5 * MIN, "o2", n=9)],
        "RESOLVED: test rule: org_id=o1 (no events left in the window)",
    ),
    (
        "a ratio that clears by min_count with a comparison template",
        {
            "type": "ratio",
            "numerator": {"flagged": True},
            "window": "1m",
            "threshold": 0.5,
            "min_count": 2,
        },
        {"resolve_after": "0s", "annotations": {"summary": "ratio {value} > {threshold}"}},
        # at 1m0.x s the first event leaves: one flagged event, ratio 1, under min_count
        [ev(0, flagged=True), ev(30 * S, flagged=True), ev(5 * MIN, "o2")],
        "RESOLVED: test rule: org_id=o1 (now 1: the condition no longer holds)",
    ),
    (
        "an occurrence rule",
        {"type": "match"},
        {"resolve_after": "1m"},
        [ev(0), ev(5 * MIN, "o2", event_type="other")],
        "RESOLVED: test rule: org_id=o1 (no new occurrence for 1m)",
    ),
    (
        "an absence",
        {"type": "absence", "window": "1m"},
        {"resolve_after": "0s"},
        sorted(
            [ev(0), ev(0, "o2"), *[ev(t * S, "o2") for t in range(10, 200, 10)], ev(150 * S)],
            key=lambda e: e["ts"],
        ),
        "RESOLVED: test rule: org_id=o1 (events again)",
    ),
]


@pytest.mark.parametrize(("name", "detect", "top", "events", "expected"), RESOLVES)
def test_resolve_summaries_read_true(name, detect, top, events, expected):
    r = base_rule(detect, **top)
    resolves = [a for a in run(r, events) if a.action == "resolve" and a.group[0][1] == "o1"]
    assert len(resolves) == 1, name
    msg = page(r, resolves[0])
    assert msg["payload"]["summary"] == expected, name
    assert "None" not in msg["payload"]["summary"]


def test_a_min_threshold_resolve_without_events_has_no_value():
    r = base_rule(
        MIN_BELOW_5,
        resolve_after="0s",
    )
    out = run(r, [ev(0, n=1), ev(5 * MIN, "o2", n=9)])
    assert [(a.action, a.evidence.value) for a in out] == [("trigger", 1), ("resolve", None)]
    assert page(r, out[1])["payload"]["custom_details"]["value"] is None
