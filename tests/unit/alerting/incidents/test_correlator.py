"""The correlator's rules, as tables: a stream of pages in, one decision each out.

Each expected decision is (what, incident, absorbed_by, pages, firing); incidents are named A,
B, C... in the order their ids first appear, so a table says which pages share one.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import orjson
import pytest

from alerting.incidents import Correlator, Decision, incident_id
from alerting.pager import MessageError
from tests.unit.alerting.incidents.pages import HOUR, MIN, T0, R, T, entity, page

W = 30 * MIN

ORG = "org_rate/o1"  # the dedup key of T("org_rate", ..., org="o1")


def named(decisions: list[Decision]) -> list[tuple[object, ...]]:
    names: dict[str, str] = {}
    out: list[tuple[object, ...]] = []
    for d in decisions:
        name = names.setdefault(d.incident, "ABCDEFGHIJ"[len(names)])
        out.append((d.what, name, d.absorbed_by, d.pages, d.firing))
    return out


def run(messages, **kw) -> list[Decision]:
    c = Correlator(**kw)
    return [c.decide(m) for m in messages]


CASES = [
    pytest.param(
        [T("org_rate", 0, org="o1"), T("org_rate", 0, org="o2"),
         T("key_burst", 1 * MIN, org="o2", key="k1")],
        [("opened", "A", None, 1, 1), ("opened", "B", None, 1, 1),
         ("absorbed", "B", "org_rate/o2", 2, 2)],
        id="two roots never share an incident",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("ip_fanout", 0, ip="203.0.113.9"),
         T("org_ip", 0, org="o1", ip="203.0.113.9")],
        [("opened", "A", None, 1, 1), ("opened", "B", None, 1, 1),
         ("absorbed", "A", ORG, 2, 2)],
        id="a page joins the incident of its root, not of a side entity",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("key_burst", 1 * MIN, org="o1", key="k1"),
         R("key_burst", 5 * MIN, org="o1", key="k1"), R("org_rate", 10 * MIN, org="o1")],
        [("opened", "A", None, 1, 1), ("absorbed", "A", ORG, 2, 2),
         ("page_resolved", "A", None, 2, 1), ("resolved", "A", None, 2, 0)],
        id="a child's resolve leaves the incident open, the last resolve resolves it",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("key_burst", 1 * MIN, org="o1", key="k1"),
         R("org_rate", 5 * MIN, org="o1"), R("key_burst", 10 * MIN, org="o1", key="k1")],
        [("opened", "A", None, 1, 1), ("absorbed", "A", ORG, 2, 2),
         ("page_resolved", "A", None, 2, 1), ("resolved", "A", None, 2, 0)],
        id="the parent resolving first leaves the child's incident open",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("key_burst", 5 * HOUR, org="o1", key="k1")],
        [("opened", "A", None, 1, 1), ("absorbed", "A", ORG, 2, 2)],
        id="absorbed while the org page fires, hours later",
    ),
    pytest.param(
        [T("key_burst", 0, org="o1", key="k1"), T("key_burst", 31 * MIN, org="o1", key="k2")],
        [("opened", "A", None, 1, 1), ("opened", "B", None, 1, 1)],
        id="a sibling key page after W of quiet opens a new incident",
    ),
    pytest.param(
        [T("key_burst", 0, org="o1", key="k1"), T("key_burst", 29 * MIN, org="o1", key="k2")],
        [("opened", "A", None, 1, 1), ("joined", "A", None, 2, 2)],
        id="a sibling key page within W joins",
    ),
    pytest.param(
        [T("key_burst", 0, org="o1", key="k1"), T("key_burst", W, org="o1", key="k2"),
         T("key_burst", 2 * W + 1, org="o1", key="k3")],
        [("opened", "A", None, 1, 1), ("joined", "A", None, 2, 2),
         ("opened", "B", None, 1, 1)],
        id="W after the latest trigger joins, a millisecond more does not",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("org_errors", 5 * HOUR, org="o1")],
        [("opened", "A", None, 1, 1), ("opened", "B", None, 1, 1)],
        id="the same entities are no parent: another org page after W opens",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("org_rate", 10 * MIN, org="o1"),
         T("org_errors", 10 * MIN + W, org="o1")],
        [("opened", "A", None, 1, 1), ("updated", "A", None, 1, 1),
         ("joined", "A", None, 2, 2)],
        id="a firing page's trigger updates, and counts as the latest trigger",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), R("org_rate", 5 * MIN, org="o1"),
         T("org_rate", 6 * MIN, org="o1"), T("key_burst", 7 * MIN, org="o1", key="k1")],
        [("opened", "A", None, 1, 1), ("resolved", "A", None, 1, 0),
         ("opened", "B", None, 1, 1), ("absorbed", "B", ORG, 2, 2)],
        id="a resolved incident is closed for good",
    ),
    pytest.param(
        [T("key_burst", 0, org="o1", key="k1"), T("key_burst", 31 * MIN, org="o1", key="k2"),
         T("key_burst", 40 * MIN, org="o1", key="k1"),
         T("key_burst", 45 * MIN, org="o1", key="k3")],
        [("opened", "A", None, 1, 1), ("opened", "B", None, 1, 1),
         ("updated", "A", None, 1, 1), ("joined", "B", None, 2, 2)],
        id="of two open incidents within W, the most recently opened",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("acct_rate", 1 * MIN, org="o1", acct="a1"),
         T("key_burst", 2 * MIN, org="o1", acct="a1", key="k1")],
        [("opened", "A", None, 1, 1), ("absorbed", "A", ORG, 2, 2),
         ("absorbed", "A", "acct_rate/o1,a1", 3, 3)],
        id="absorbed by the closest parent",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("org_errors", 1 * MIN, org="o1"),
         T("key_burst", 2 * MIN, org="o1", key="k1")],
        [("opened", "A", None, 1, 1), ("joined", "A", None, 2, 2),
         ("absorbed", "A", "org_errors/o1", 3, 3)],
        id="of equal parents, the lowest dedup key",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"),
         *(T("key_burst", n * MIN, org="o1", key=f"k{n}") for n in range(1, 9)),
         T("key_ip", 9 * MIN, org="o1", key="k1", ip="203.0.113.9"),
         T("acct_rate", 10 * MIN, org="o1", acct="a1")],
        [("opened", "A", None, 1, 1),
         *(("absorbed", "A", ORG, n, n) for n in range(2, 10)),
         ("absorbed", "A", "key_burst/o1,k1", 10, 10),
         ("absorbed", "A", ORG, 11, 11)],
        id="among many firing pages, the closest parent",
    ),
    pytest.param(
        [T("acct_rate", 0, org="o1", acct="a1"), T("key_burst", 1 * MIN, org="o1", key="k1")],
        [("opened", "A", None, 1, 1), ("joined", "A", None, 2, 2)],
        id="a page about another branch is no parent",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("key_burst", 1 * MIN, org="o1", key="k1"),
         R("org_rate", 2 * MIN, org="o1"), T("key_burst", 3 * HOUR, org="o1", key="k2")],
        [("opened", "A", None, 1, 1), ("absorbed", "A", ORG, 2, 2),
         ("page_resolved", "A", None, 2, 1), ("opened", "B", None, 1, 1)],
        id="a resolved parent absorbs nothing",
    ),
    pytest.param(
        [T("org_rate", 0, org="o1"), T("key_burst", 1 * MIN, org="o1", key="k1"),
         R("key_burst", 2 * MIN, org="o1", key="k1"), T("key_burst", 2 * HOUR, org="o1", key="k1")],
        [("opened", "A", None, 1, 1), ("absorbed", "A", ORG, 2, 2),
         ("page_resolved", "A", None, 2, 1), ("absorbed", "A", ORG, 2, 2)],
        id="a resolved page firing again rejoins as one page",
    ),
    pytest.param(
        [R("key_burst", 0, org="o1", key="k1"), T("org_rate", 0, org="o1"),
         R("org_rate", 1 * MIN, org="o1"), R("org_rate", 2 * MIN, org="o1")],
        [("alone", "A", None, 1, 0), ("opened", "B", None, 1, 1),
         ("resolved", "B", None, 1, 0), ("alone", "C", None, 1, 0)],
        id="a resolve of a page that fires nowhere is alone, never swallowed",
    ),
    pytest.param(
        [page("trigger", "plain", 0), page("trigger", "plain", 1 * MIN),
         page("trigger", "other", 1 * MIN), page("resolve", "plain", 2 * MIN)],
        [("opened", "A", None, 1, 1), ("updated", "A", None, 1, 1),
         ("opened", "B", None, 1, 1), ("resolved", "A", None, 1, 0)],
        id="a page without entities is an incident of its own",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("messages", "expected"), CASES)
def test_decisions(messages, expected):
    assert named(run(messages)) == expected


def test_the_id_is_a_hash_of_root_opener_and_time():
    o1 = entity("org_id", "o1")
    d = Correlator().decide(T("org_rate", 5 * MIN, org="o1"))
    digest = hashlib.sha256(orjson.dumps([o1.ref, ORG, T0 + 5 * MIN])).hexdigest()
    assert d.incident == f"inc_{digest[:16]}" == incident_id(o1.ref, ORG, T0 + 5 * MIN)
    assert (d.root.name, d.root.ref, d.root.value, d.opened_at) == (
        "org_id", o1.ref, "o1", T0 + 5 * MIN,
    )  # fmt: skip


def test_an_alone_resolve_has_an_id_of_its_own_page():
    d = Correlator().decide(R("key_burst", MIN, org="o1", key="k1"))
    key = "page/key_burst/o1,k1"
    assert d.incident == incident_id(key, "key_burst/o1,k1", T0 + MIN)
    assert (d.root.name, d.root.ref, d.root.value) == ("page", key, "key_burst/o1,k1")


@pytest.mark.parametrize(("messages", "expected"), CASES)
def test_ids_do_not_depend_on_other_roots_read_before(messages, expected):
    others = [T("org_rate", 0, org="o9"), T("key_burst", -HOUR, org="o8", key="k1")]
    alone = [d.incident for d in run(messages)]
    after_others = [d.incident for d in run(others + messages)[len(others) :]]
    assert after_others == alone


def test_joined_pages_keep_the_opening_time():
    a, b = run([T("key_burst", 0, org="o1", key="k1"), T("key_burst", MIN, org="o1", key="k2")])
    assert a.opened_at == b.opened_at == T0 and a.incident == b.incident


def test_a_redacted_value_correlates_by_ref():
    org = entity("org_id", "o1")
    shown = T("key_burst", MIN, org="o1", key="k1")
    details = shown.payload.custom_details
    hidden_org = replace(org, value="[redacted]")
    details = replace(details, entities=(hidden_org, *details.entities[1:]))
    hidden = replace(shown, payload=replace(shown.payload, custom_details=details))
    first, second = run([T("org_rate", 0, org="o1"), hidden])
    assert second.what == "absorbed" and second.incident == first.incident


def test_a_timestamp_that_is_not_a_time_is_a_message_error():
    good = T("org_rate", 0, org="o1")
    bad = replace(good, payload=replace(good.payload, timestamp="yesterday"))
    with pytest.raises(MessageError, match=r"^payload\.timestamp: "):
        Correlator().decide(bad)


@pytest.mark.parametrize(
    ("kw", "why"), [({"window_ms": -1}, "window_ms"), ({"max_open": 0}, "max_open")]
)
def test_bad_settings_are_refused(kw, why):
    with pytest.raises(ValueError, match=why):
        Correlator(**kw)
