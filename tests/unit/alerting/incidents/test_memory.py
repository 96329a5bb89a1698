"""What the correlator remembers: repeats, the cap on open incidents, and what it forgets."""

from __future__ import annotations

from dataclasses import astuple

import pytest

from alerting.incidents import Correlator
from tests.unit.alerting.incidents.pages import HOUR, MIN, T0, R, T

W = 30 * MIN

STREAM = [
    T("org_rate", 0, org="o1"),
    T("key_burst", MIN, org="o1", key="k1"),
    T("key_burst", 2 * MIN, org="o1", key="k2"),
    T("key_burst", 3 * MIN, org="o1", key="k2"),
    R("key_burst", 4 * MIN, org="o1", key="k1"),
    R("org_rate", 5 * MIN, org="o1"),
    R("key_burst", 6 * MIN, org="o1", key="k2"),
    R("key_burst", 7 * MIN, org="o1", key="k3"),
    T("org_rate", 8 * MIN, org="o1"),
]


def state(c: Correlator) -> tuple[object, ...]:
    return (c.save(), astuple(c.counters))


@pytest.mark.parametrize("at", range(len(STREAM)))
def test_a_repeat_gives_the_same_decision_and_changes_nothing(at):
    c = Correlator()
    decisions = [c.decide(m) for m in STREAM[: at + 1]]
    before = state(c)
    assert c.decide(STREAM[at]) == decisions[at]
    assert state(c) == before


@pytest.mark.parametrize("at", range(len(STREAM)))
def test_a_batch_read_again_gives_the_same_decisions(at):
    """The bridge crashed after deciding the whole stream but committed only up to `at`."""
    c = Correlator()
    first = [c.decide(m) for m in STREAM]
    before = state(c)
    assert [c.decide(m) for m in STREAM[at:]] == first[at:]
    assert state(c) == before


def test_a_repeat_is_recognised_within_w_of_the_clock():
    c = Correlator()
    opened = c.decide(T("org_rate", 0, org="o1"))
    c.decide(T("org_rate", W, org="o2"))
    assert c.decide(T("org_rate", 0, org="o1")) == opened
    c.decide(T("org_rate", W + 1, org="o2"))  # the clock passes W after the first trigger
    again = c.decide(T("org_rate", 0, org="o1"))
    assert again.what == "updated" and again.incident == opened.incident


def test_a_resolved_incident_is_kept_for_w_after_its_resolve():
    c = Correlator()
    inc = c.decide(T("org_rate", 0, org="o1")).incident
    resolved = c.decide(R("org_rate", MIN, org="o1"))
    assert resolved.what == "resolved"
    c.decide(T("org_rate", MIN + W, org="o2"))
    view = c.incident(inc)
    assert view is not None and view.resolved_at == T0 + MIN
    assert c.decide(R("org_rate", MIN, org="o1")) == resolved  # still a repeat
    c.decide(T("org_rate", MIN + W + 1, org="o3"))
    assert c.incident(inc) is None
    assert [i.root.value for i in c.incidents()] == ["o2", "o3"]
    # Forgotten: the same resolve now fires nowhere.
    assert c.decide(R("org_rate", MIN, org="o1")).what == "alone"


def test_past_the_cap_the_oldest_opened_incident_is_dropped():
    c = Correlator(max_open=2)
    a = c.decide(T("org_rate", 0, org="o1"))
    b = c.decide(T("org_rate", MIN, org="o2"))
    c.decide(T("key_burst", 2 * MIN, org="o1", key="k1"))  # absorbed: a is still the oldest
    third = c.decide(T("org_rate", 3 * MIN, org="o3"))
    assert third.what == "opened" and third.dropped == a.incident
    assert c.open_count == 2 and c.counters.dropped == 1
    assert c.incident(a.incident) is None
    late = [c.decide(R("org_rate", 4 * MIN, org="o1")),
            c.decide(R("key_burst", 4 * MIN, org="o1", key="k1"))]  # fmt: skip
    assert [d.what for d in late] == ["alone", "alone"]
    assert c.decide(R("org_rate", 5 * MIN, org="o2")).incident == b.incident
    reopened = c.decide(T("key_burst", 6 * MIN, org="o1", key="k1"))
    assert reopened.what == "opened" and reopened.dropped is None


def test_a_cap_of_one_keeps_the_newest():
    c = Correlator(max_open=1)
    ds = [c.decide(T("org_rate", n * MIN, org=f"o{n}")) for n in range(5)]
    assert [d.dropped for d in ds] == [None, *(d.incident for d in ds[:-1])]
    assert [i.root.value for i in c.incidents()] == ["o4"]
    assert c.counters.dropped == 4 and c.counters.opened == 5


def test_remembered_decisions_are_bounded_by_the_cap():
    c = Correlator(window_ms=10 * HOUR, max_open=3)
    for n in range(10):
        c.decide(R("org_rate", n, org=f"o{n}"))
    counted = c.counters.decisions["alone"]
    c.decide(R("org_rate", 7, org="o7"))  # among the last three: a repeat
    assert c.counters.decisions["alone"] == counted
    c.decide(R("org_rate", 6, org="o6"))  # forgotten: decided (and counted) again
    assert c.counters.decisions["alone"] == counted + 1


def test_resolved_incidents_kept_are_bounded_by_the_cap():
    c = Correlator(window_ms=10 * HOUR, max_open=2)
    ids = []
    for n in range(4):
        ids.append(c.decide(T("org_rate", n, org=f"o{n}")).incident)
        c.decide(R("org_rate", n, org=f"o{n}"))
    assert [c.incident(i) is not None for i in ids] == [False, False, True, True]
