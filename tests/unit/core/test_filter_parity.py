"""`where:` filters: the compiled core (core/engine/src/filter.rs) against the Python reference
(`tests.reference.filters.compile_predicate`) on generated filter trees (every operator,
arguments of every type the rule checker allows, nested paths, `all`/`any`/`not`) and generated
events: the same events match. Each tree is a `match` rule grouping by `event_id`, so the core's
triggers name the events it selected; the reference engine (its selector) must agree as well."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from signalfire.rules.model import Rule
from tests.reference.engine import Engine
from tests.reference.events import decode
from tests.reference.filters import compile_predicate
from tests.unit.core.filters import cases
from tests.unit.core.parity import SETTINGS, core, match_rule
from tests.unit.core.records import dumps


def checked_rules(trees: list[dict[str, Any]]) -> list[Rule]:
    rules = []
    for n, tree in enumerate(trees):
        try:
            rules.append(match_rule(id=f"f{n}", where=tree))
        except AssertionError:  # the rule checker refused it (a bad regex or network)
            reject()
    return rules


def assert_same_matches(rules: list[Rule], evs: list[dict[str, Any]]) -> None:
    records = [dumps(e).encode() for e in evs]
    decoded = [decode(raw) for raw in records]
    dead, alerts = core(rules, records)
    assert dead == {}
    for rule in rules:
        pred = compile_predicate(rule.where)
        want = [e["event_id"] for e in decoded if pred(e)]
        got = [a.group[0][1] for a in alerts if a.rule_id == rule.id]
        assert got == want, f"{rule.where}: core {got}, Python {want}\n{records}"
    assert repr(alerts) == repr(Engine(rules, SETTINGS).process(decoded))


@settings(max_examples=200, deadline=None)
@given(cases())
# Two rules whose values are equal in Python but not in a filter (0 and false): each keeps its
# own answer (a shared condition keyed by value once merged them).
@example(([{"x": 0}, {"x": False}], [{"event_id": "e0", "org_id": "o", "ts": 1000, "x": 0}]))
def test_generated_filters(case: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    trees, evs = case
    assert_same_matches(checked_rules(trees), evs)


def ev(n: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "org_id": "o", "ts": 1000, **fields}


NUMBERS = [0, -0.0, 1, 1.0, 2**53, 2**53 + 1, float(2**53), 2**63, 2**64 - 1, 1e19, float(2**64)]
BIG = [2**53 + 1, 2**63, 2**64 - 1, float(2**64), 1e19, 1.7e38, float(2**127), float(2**200)]
IP_VALUES = ["10.0.0.1", "010.0.0.1", "::ffff:10.0.0.1", "fe80::1%eth0", "fe80::1%a%b"]

TABLE: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    # numbers equal across int and float, big integers, arguments no event number reaches
    *[
        ({"x": {op: arg}}, [ev(n, x=v) for n, v in enumerate(NUMBERS + BIG)])
        for op in ["eq", "ne", "gt", "lt", "gte"]
        for arg in [1, 1.0, -0.0, *BIG, -(2**63), float("inf"), -float("inf")]
    ],
    ({"x": {"eq": float("nan")}}, [ev(0, x=1), ev(1, x=1.5)]),
    ({"x": {"ne": float("nan")}}, [ev(0, x=1), ev(1, x="a")]),
    ({"x": {"in": [float("nan"), 2**64 - 1, 1]}}, [ev(n, x=v) for n, v in enumerate(NUMBERS)]),
    ({"x": {"in": [True, "1", 2**53 + 1]}}, [ev(n, x=v) for n, v in enumerate([*NUMBERS, True])]),
    ({"x": {"contains": 2**64 - 1}}, [ev(0, x=[float(2**64)]), ev(1, x=[2**64 - 1])]),
    ({"x": {"contains": 1}}, [ev(0, x=[True]), ev(1, x=[1.0]), ev(2, x="1"), ev(3, x=["1"])]),
    ({"x": {"contains": "1"}}, [ev(0, x=[1]), ev(1, x="a1"), ev(2, x=["1"]), ev(3, x={"1": 1})]),
    # the contract's fields as normalised: ts an int whatever its form, event_type defaulted
    (
        {"ts": {"eq": 1000}, "event_type": "request"},
        [ev(0), ev(1, ts=1000.7), ev(2, ts="1970-01-01T00:00:01Z"), ev(3, event_type="x")],
    ),
    # networks with a scope, a netmask or a hostmask; addresses in every spelling
    *[
        ({"ip": {"cidr": net}}, [ev(n, ip=v) for n, v in enumerate(IP_VALUES)])
        for net in ["10.0.0.0/8", "10.0.0.0/255.0.0.0", "10.0.0.0/0.255.255.255", "fe80::%eth0/64"]
    ],
]


@pytest.mark.parametrize(("where", "evs"), TABLE)
def test_table(where: dict[str, Any], evs: list[dict[str, Any]]) -> None:
    assert_same_matches([match_rule(id="t", where=where)], evs)


def test_floats_json_has_no_number_for_reach_the_core() -> None:
    rule = match_rule(id="t", where={"x": {"lt": float("inf"), "ne": float("nan")}})
    dead, alerts = core([rule], [orjson.dumps(ev(0, x=1e308))])
    assert dead == {}
    assert [a.group for a in alerts] == [(("event_id", "e0"),)]


ADDRESS_CHARS = st.sampled_from([*"0123456789abcdefABCDEFg:.%/ x", "::", "\n", "\u0663", "ff"])


@st.composite
def address_texts(draw: st.DrawFn) -> str:
    """Addresses and near-addresses: valid ones (IPv4, IPv6, IPv4-suffixed, scoped) with
    characters inserted, removed or replaced."""
    text = str(draw(st.ip_addresses()))
    if draw(st.integers(0, 3)) == 0:
        text = "::ffff:" + str(draw(st.ip_addresses(v=4)))
    if ":" in text and draw(st.integers(0, 3)) == 0:
        text += "%" + draw(st.sampled_from(["eth0", "1", "", "a%b", "a/b", "%"]))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        piece = draw(ADDRESS_CHARS)
        kind = draw(st.integers(0, 2))
        text = text[:at] + ("" if kind == 1 else piece) + text[at + (kind > 0) :]
    return text


@settings(max_examples=150, deadline=None)
@given(st.lists(address_texts(), min_size=1, max_size=30))
def test_address_parsing(ips: list[str]) -> None:
    """Every address is in one of these networks: a match is the address being read at all."""
    rule = match_rule(id="t", where={"ip": {"cidr": ["0.0.0.0/0", "::/0"]}})
    assert_same_matches([rule], [ev(n, ip=ip) for n, ip in enumerate(ips)])
