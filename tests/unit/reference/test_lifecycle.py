"""The lifecycle state machine, driven directly: table of inputs -> transitions."""

import pytest

from signalfire.engine.alert import Evidence
from tests.reference.lifecycle import Lifecycle, Policy


def lc(**policy):
    return Lifecycle(Policy(**policy), lambda key, at: Evidence(value=at))


def drive(life, steps):
    """steps: ("T", t) cond true, ("F", t) cond false, ("O", t) occurrence, ("W", wm) watermark."""
    for kind, t in steps:
        if kind == "T":
            life.cond_true("g", t)
        elif kind == "F":
            life.cond_false("g", t)
        elif kind == "O":
            life.occurred("g", t, Evidence(value=t))
        else:
            life.fire_due(t)
    return [(tr.action, tr.at) for _, tr in life.out]


CONDITION = [
    # policy, steps, expected transitions
    ({}, [("T", 10)], [("trigger", 10)]),
    ({}, [("T", 10), ("T", 20), ("T", 30)], [("trigger", 10)]),
    ({"resolve_after_ms": 0}, [("T", 10), ("F", 20)], [("trigger", 10), ("resolve", 20)]),
    ({"resolve_after_ms": 100}, [("T", 10), ("F", 20), ("W", 119)], [("trigger", 10)]),
    (
        {"resolve_after_ms": 100},
        [("T", 10), ("F", 20), ("W", 120)],
        [("trigger", 10), ("resolve", 120)],
    ),
    # condition returns before the resolve is due: no resolve, no second trigger
    ({"resolve_after_ms": 100}, [("T", 10), ("F", 20), ("T", 50), ("W", 500)], [("trigger", 10)]),
    ({"for_ms": 100}, [("T", 10), ("W", 109)], []),
    ({"for_ms": 100}, [("T", 10), ("W", 110)], [("trigger", 110)]),
    ({"for_ms": 100}, [("T", 10), ("F", 50), ("W", 500)], []),
    # throttle: new episode within throttle waits until the throttle ends, if still holding
    (
        {"throttle_ms": 1000, "resolve_after_ms": 0},
        [("T", 0), ("F", 10), ("T", 20), ("W", 999)],
        [("trigger", 0), ("resolve", 10)],
    ),
    (
        {"throttle_ms": 1000, "resolve_after_ms": 0},
        [("T", 0), ("F", 10), ("T", 20), ("W", 1000)],
        [("trigger", 0), ("resolve", 10), ("trigger", 1000)],
    ),
    (
        {"throttle_ms": 1000, "resolve_after_ms": 0},
        [("T", 0), ("F", 10), ("T", 20), ("F", 30), ("W", 5000)],
        [("trigger", 0), ("resolve", 10)],
    ),
    (
        {"throttle_ms": 1000, "resolve_after_ms": 0},
        [("T", 0), ("F", 10), ("T", 1000)],
        [("trigger", 0), ("resolve", 10), ("trigger", 1000)],
    ),
]


@pytest.mark.parametrize(("policy", "steps", "expected"), CONDITION)
def test_condition_lifecycle(policy, steps, expected):
    assert drive(lc(**policy), steps) == expected


OCCURRENCE = [
    ({"throttle_ms": 100}, [("O", 0), ("O", 50), ("O", 100)], [("trigger", 0), ("trigger", 100)]),
    ({"throttle_ms": 0}, [("O", 0), ("O", 0)], [("trigger", 0), ("trigger", 0)]),
    (
        {"throttle_ms": 100, "resolve_after_ms": 30},
        [("O", 0), ("O", 20), ("W", 49)],
        [("trigger", 0)],
    ),
    (
        {"throttle_ms": 100, "resolve_after_ms": 30},
        [("O", 0), ("O", 20), ("W", 50)],
        [("trigger", 0), ("resolve", 50)],
    ),
]


@pytest.mark.parametrize(("policy", "steps", "expected"), OCCURRENCE)
def test_occurrence_lifecycle(policy, steps, expected):
    assert drive(lc(**policy), steps) == expected


def test_suppressed_counted():
    life = lc(throttle_ms=100)
    drive(life, [("O", 0), ("O", 10), ("O", 20)])
    assert life.suppressed == 2


def test_resolve_carries_the_evidence_of_the_clearing_moment():
    life = lc(resolve_after_ms=100)
    drive(life, [("T", 10), ("F", 20), ("W", 500)])
    assert life.out[-1][1].evidence.value == 20


def test_throttle_memory_is_forgotten_after_the_throttle():
    life = lc(throttle_ms=100)
    for i in range(10):
        life.occurred(f"g{i}", i, Evidence())
    life.forget_throttles(50)
    assert len(life.last_trigger) == 10
    life.forget_throttles(105)
    assert len(life.last_trigger) == 4


def test_a_page_goes_no_earlier_than_what_set_its_timer():
    """A timer fires at the position of what brought time to it, or of what set it if that
    came later (a late event can set a timer the clock has already passed)."""
    life = lc(for_ms=100, resolve_after_ms=50)
    life.seq = 3
    life.cond_true("g", 10)
    life.seq = 1
    life.fire_due(110)
    life.seq = 7
    life.cond_false("g", 120)
    life.seq = 9
    life.fire_due(170)
    assert [(floor, tr.action, tr.at) for floor, tr in life.out] == [
        (3, "trigger", 110),
        (9, "resolve", 170),
    ]
