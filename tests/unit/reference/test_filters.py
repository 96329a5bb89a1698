"""Every operator of docs/rules.md against a table of events, in the reference's filters and in
the compiled core (a `match` rule per row, which pages for the event when it matches)."""

from typing import Any

import orjson
import pytest

from signalfire.engine.core import CoreEngine
from signalfire.rules.model import AllOf, AnyOf, Cond, Not
from tests.reference.filters import Selector, SelectSpec, compile_predicate
from tests.unit.helpers import base_rule

E = {
    "org_id": "o1",
    "status": 200,
    "flagged": True,
    "model": "gpt-x",
    "tokens": 1.5,
    "endpoint": "/v1/chat/completions",
    "ip": "10.1.2.3",
    "ip6": "2001:db8::1",
    "categories": ["hate", "violence"],
    "attrs": {"plan": "free", "n": 3, "deep": {"x": 1}},
    "one": 1,
    "zero": 0,
}

CASES = [
    # (path, op, arg, matches E?)
    ("model", "eq", "gpt-x", True),
    ("model", "eq", "gpt-y", False),
    ("flagged", "eq", True, True),
    ("one", "eq", True, False),  # JSON types: true is not 1
    ("flagged", "eq", 1, False),
    ("status", "eq", 200, True),
    ("status", "eq", 200.0, True),
    ("missing", "eq", "x", False),
    ("model", "ne", "gpt-y", True),
    ("missing", "ne", "x", True),  # missing matches ne
    ("model", "in", ("a", "gpt-x"), True),
    ("status", "in", (200, 404), True),
    ("flagged", "in", (1, 2), False),
    ("one", "in", (True,), False),
    ("missing", "not_in", ("a",), True),
    ("model", "not_in", ("gpt-x",), False),
    ("categories", "in", ("hate",), False),  # a list is not a scalar member
    ("status", "gt", 199, True),
    ("status", "gte", 200, True),
    ("status", "lt", 200, False),
    ("status", "lte", 200, True),
    ("tokens", "gt", 1, True),
    ("flagged", "gt", 0, False),  # booleans are not numbers
    ("model", "gt", 0, False),
    ("endpoint", "contains", "chat", True),
    ("categories", "contains", "hate", True),
    ("categories", "contains", "spam", False),
    ("endpoint", "startswith", ("/v1/",), True),
    ("endpoint", "startswith", ("/v2/", "/v1/chat"), True),
    ("endpoint", "endswith", ("completions",), True),
    ("status", "startswith", ("2",), False),
    ("endpoint", "regex", "chat/(completions|edits)$", True),
    ("endpoint", "regex", "^chat", False),  # anchored
    ("endpoint", "regex", "v1", True),  # anywhere unless anchored
    ("ip", "cidr", ("10.0.0.0/8",), True),
    ("ip", "cidr", ("192.168.0.0/16", "10.1.0.0/16"), True),
    ("ip", "cidr", ("192.168.0.0/16",), False),
    ("ip6", "cidr", ("2001:db8::/32",), True),
    ("model", "cidr", ("10.0.0.0/8",), False),  # not an ip: no match, no error
    ("model", "exists", True, True),
    ("missing", "exists", False, True),
    ("missing", "exists", True, False),
    ("attrs.plan", "eq", "free", True),
    ("attrs.deep.x", "eq", 1, True),
    ("attrs.plan.x", "exists", False, True),
    ("model.x", "eq", "a", False),
    ("zero", "eq", False, False),
]


@pytest.mark.parametrize(("path", "op", "arg", "expected"), CASES)
def test_operator(path, op, arg, expected):
    pred = compile_predicate(Cond(tuple(path.split(".")), op, arg))
    assert pred(E) is expected


def core_matches(where: dict[str, Any], event: dict[str, Any]) -> bool:
    rule = base_rule({"type": "match"}, id="row", where=where, group_by=["org_id"])
    record = orjson.dumps({"event_id": "e1", "ts": 1000, **event})
    out = CoreEngine([rule]).process([record])
    assert not out.dead_letters, out.dead_letters
    return [a.action for a in out.alerts] == ["trigger"]


@pytest.mark.parametrize(("path", "op", "arg", "expected"), CASES)
def test_operator_in_the_core(path, op, arg, expected):
    value = list(arg) if isinstance(arg, tuple) else arg
    assert core_matches({path: {op: value}}, E) is expected


def test_combinators():
    a = Cond(("model",), "eq", "gpt-x")
    b = Cond(("status",), "eq", 500)
    assert compile_predicate(AllOf((a, b)))(E) is False
    assert compile_predicate(AnyOf((a, b)))(E) is True
    assert compile_predicate(Not(b))(E) is True
    assert compile_predicate(AllOf(()))(E) is True


def test_user_text_is_a_value():
    # A value that looks like code stays a value; any field name is a field.
    evil = "') or True or ('"
    pred = compile_predicate(Cond(("model",), "eq", evil))
    assert pred(E) is False
    assert pred({"model": evil}) is True
    weird_field = compile_predicate(Cond(("a-b",), "eq", 1))
    assert weird_field({"a-b": 1}) is True
    assert core_matches({"model": evil}, E) is False
    assert core_matches({"model": evil}, {**E, "model": evil}) is True
    assert core_matches({"a-b": 1}, {**E, "a-b": 1}) is True


def test_selector_returns_indexes_keys_and_values():
    spec = SelectSpec(
        Cond(("flagged",), "eq", True), (("org_id",), ("attrs", "plan")), "number", ("tokens",)
    )
    events = [
        E,
        {**E, "flagged": False},
        {**E, "attrs": {}},  # group field missing: skipped
        {**E, "tokens": "many"},  # value not a number: skipped
        {**E, "org_id": ["not", "hashable"]},
        {**E, "tokens": 7},
    ]
    ((idxs, keys, vals),) = Selector([spec])(events)
    assert idxs == [0, 5]
    assert keys == [("o1", "free"), ("o1", "free")]
    assert vals == [1.5, 7]


def test_selector_mask_and_single_key():
    spec = SelectSpec(
        AllOf(()),
        (("org_id",),),
        "mask",
        value_filters=(Cond(("event_type",), "eq", "a"), Cond(("event_type",), "eq", "b")),
    )
    events = [{"org_id": "o", "event_type": t} for t in ("a", "x", "b")]
    assert Selector([spec])(events) == [([0, 2], ["o", "o"], [1, 2])]


def test_selector_of_several_rules_selects_for_each():
    specs = [
        SelectSpec(Cond(("flagged",), "eq", True), (("org_id",),)),
        SelectSpec(AllOf(()), (("org_id",), ("attrs", "plan")), "number", ("tokens",)),
        SelectSpec(Cond(("ip",), "cidr", ("10.0.0.0/8",)), (), "hashable", ("model",)),
        SelectSpec(
            AllOf(()), (("org_id",),), "filter", value_filters=(Cond(("status",), "gte", 500),)
        ),
    ]
    events = [E, {**E, "flagged": False, "tokens": "x"}, {**E, "ip": "1.2.3.4", "status": 503}, {}]
    selected = Selector(specs)(events)
    assert selected[0] == ([0, 2], ["o1", "o1"], [])
    assert selected[1] == ([0, 2], [("o1", "free")] * 2, [1.5, 1.5])
    assert selected[2] == ([0, 1], [(), ()], ["gpt-x", "gpt-x"])
    assert selected[3] == ([0, 1, 2], ["o1"] * 3, [False, False, True])
    assert Selector([])(events) == []
