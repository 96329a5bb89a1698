"""What the bridge, the store and the console see: incidents, their pages, and the counters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerting.incidents import PAGES_BUCKETS, Correlator, History, merge_entities
from tests.unit.alerting.incidents.pages import MIN, T0, R, T, entity

O1, A1, K1, K2, IP = (
    entity("org_id", "o1"),
    entity("account_id", "a1"),
    entity("api_key_id", "k1"),
    entity("api_key_id", "k2"),
    entity("ip", "203.0.113.9"),
)

ATTACK = [
    T("org_rate", 0, org="o1"),
    T("key_burst", MIN, org="o1", key="k1", ip="203.0.113.9"),
    T("key_burst", 2 * MIN, org="o1", acct="a1", key="k2"),
    T("org_rate", 3 * MIN, org="o1"),
    R("key_burst", 4 * MIN, org="o1", key="k1", ip="203.0.113.9"),
    R("org_rate", 5 * MIN, org="o1"),
]


def test_an_incident_shows_its_pages_in_order_of_entry():
    c = Correlator()
    first = c.decide(ATTACK[0])
    for m in ATTACK[1:]:
        c.decide(m)
    inc = c.incident(first.incident)
    assert inc is not None
    assert (inc.id, inc.root, inc.opened_at, inc.resolved_at) == (
        first.incident, first.root, T0, None,
    )  # fmt: skip
    got = [(p.dedup_key, p.rule, p.first_trigger_at, p.resolved_at, p.absorbed_by, p.firing)
           for p in inc.pages]  # fmt: skip
    assert got == [
        ("org_rate/o1", "org_rate", T0, T0 + 5 * MIN, None, False),
        ("key_burst/o1,k1,203.0.113.9", "key_burst", T0 + MIN, T0 + 4 * MIN, "org_rate/o1", False),
        ("key_burst/o1,a1,k2", "key_burst", T0 + 2 * MIN, None, "org_rate/o1", True),
    ]
    assert [p.absorbed for p in inc.pages] == [False, True, True]
    assert inc.pages[1].entities == (O1, K1, IP)
    assert inc.rules == ("key_burst", "org_rate")
    assert inc.entities == (O1, A1, K1, K2, IP)


def test_an_incident_resolves_at_its_last_page_resolve():
    c = Correlator()
    ids = {c.decide(m).incident for m in ATTACK}
    (inc_id,) = ids
    c.decide(R("key_burst", 9 * MIN, org="o1", acct="a1", key="k2"))
    inc = c.incident(inc_id)
    assert inc is not None and inc.resolved_at == T0 + 9 * MIN
    assert not any(p.firing for p in inc.pages)


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ([[O1, K1], [O1, A1, K1]], [O1, A1, K1]),
        ([[O1, K1, IP], [O1, A1]], [O1, K1, IP, A1]),  # account vs key: not said
        ([[O1, K1, IP], [O1, A1, K2]], [O1, A1, K1, K2, IP]),
        ([[O1, IP], [O1, K1, IP]], [O1, K1, IP]),
        ([[IP], [O1, IP]], [O1, IP]),
        ([[O1, K1], [K1, O1]], [O1, K1]),  # they disagree: first seen first
        ([[O1], [O1], []], [O1]),
        ([], []),
    ],
    ids=[
        "a level between",
        "branches side by side",
        "by field",
        "side entities last",
        "a parent later",
        "disagreeing lists",
        "repeats",
        "none",
    ],
)
def test_entities_merge_top_down(lists, expected):
    assert list(merge_entities(lists)) == expected


def test_the_first_seen_of_an_entity_is_kept():
    shown = entity("org_id", "o1")
    hidden = replace(shown, value="[redacted]", source="events")
    assert merge_entities([[hidden], [shown]]) == (hidden,)


def test_counters():
    c = Correlator(max_open=2)
    for m in ATTACK:
        c.decide(m)
    c.decide(R("key_burst", 9 * MIN, org="o1", acct="a1", key="k2"))  # resolves: 3 pages
    c.decide(T("org_rate", 10 * MIN, org="o2"))
    c.decide(R("org_rate", 11 * MIN, org="o2"))  # resolves: 1 page
    for n in (3, 4, 5):
        c.decide(T("org_rate", 12 * MIN, org=f"o{n}"))  # the third drops o3's
    k = c.counters
    assert (k.opened, k.resolved, k.absorbed, k.dropped) == (5, 2, 2, 1)
    assert k.decisions == {
        "opened": 5, "joined": 0, "absorbed": 2, "updated": 1,
        "page_resolved": 2, "resolved": 2, "alone": 0,
    }  # fmt: skip
    buckets = dict(zip((*PAGES_BUCKETS, "more"), k.pages_buckets, strict=True))
    assert buckets[1] == 1 and buckets[3] == 1 and sum(k.pages_buckets) == 2
    assert k.pages_sum == 4


def test_a_large_incident_counts_in_the_last_bucket():
    c = Correlator()
    c.decide(T("org_rate", 0, org="o1"))
    for k in range(PAGES_BUCKETS[-1] + 1):
        c.decide(T("key_burst", MIN, org="o1", key=f"k{k}"))
    for k in range(PAGES_BUCKETS[-1] + 1):
        c.decide(R("key_burst", 2 * MIN, org="o1", key=f"k{k}"))
    assert c.decide(R("org_rate", 3 * MIN, org="o1")).pages == PAGES_BUCKETS[-1] + 2
    assert c.counters.pages_buckets[-1] == 1


def test_history_keeps_every_incident_the_correlator_forgets():
    c, history = Correlator(window_ms=MIN), History()
    stream = [*ATTACK, R("key_burst", 9 * MIN, org="o1", acct="a1", key="k2"),
              T("org_rate", 60 * MIN, org="o2"), R("org_rate", 99 * MIN, org="o1")]  # fmt: skip
    for m in stream:
        history.record(m, c.decide(m))
    first, second = history.incidents()
    assert c.incident(first.id) is None  # forgotten by the correlator
    assert [p.dedup_key for p in first.pages] == [
        "org_rate/o1", "key_burst/o1,k1,203.0.113.9", "key_burst/o1,a1,k2",
    ]  # fmt: skip
    assert first.resolved_at == T0 + 9 * MIN and second.resolved_at is None
    assert second == c.incident(second.id)


def test_history_views_equal_the_correlators():
    c, history = Correlator(), History()
    for m in ATTACK:
        history.record(m, c.decide(m))
        history.record(m, c.decide(m))  # a repeat records nothing more
    assert history.incidents() == c.incidents()


def test_an_incident_resolves_at_its_latest_page_resolve_whatever_the_order_read():
    c = Correlator()
    stream = [
        T("org_rate", 0, org="o1"),
        T("key_burst", MIN, org="o1", key="k1"),
        R("org_rate", 10 * MIN, org="o1"),
        R("key_burst", 5 * MIN, org="o1", key="k1"),
    ]
    last = [c.decide(m) for m in stream][-1]
    inc = c.incident(last.incident)
    assert last.what == "resolved" and inc is not None and inc.resolved_at == T0 + 10 * MIN
