"""EA2 `new_term` as Signalfire `new_value`, one rule per field.

EA2 loads every term of the last `terms_window_size` (30 days) from Elasticsearch when it
starts and then never forgets a term. Signalfire learns in the stream: values seen in the
`warmup` after a group's first event are learned, not paged; a value not seen for
`lookback` is new again. Here EA2's history (key1 and key2, the mocked terms) is events at
0 that the warmup learns; the tested events come at 2 h. A composite field [a, b, c] is
`field: c` grouped by [a, b]: the tuple is new exactly when c is new for (a, b).
"""

from typing import Any

from tests.unit.conformance.harness import Case, trigger

HISTORY: list[dict[str, Any]] = [
    {"ts": 0, "a": "key1", "b": "key1"},
    {"ts": 0, "a": "key2", "b": "key2"},
]
TESTED: list[dict[str, Any]] = [
    {"ts": "2h", "a": "key1", "b": "key2"},
    {"ts": "2h", "a": "key2"},
    {"ts": "2h", "a": "key2", "b": "key3"},
    {"ts": "2h", "a": "key2", "b": "key3"},
]


def new_value(field: str, group_by: str = "[]", extra: str = "") -> str:
    return f"""
        group_by: {group_by}
        detect: {{type: new_value, field: {field}, warmup: 1h, lookback: 1d{extra}}}
    """


CASES = [
    Case(
        id="field_b",
        ea2="test_new_term / test_new_term_with_terms: known key1, key2; events "
        "{a: key1, b: key2}, {a: key2}, {a: key2, b: key3} twice -> one match, b = key3",
        rule=new_value("b"),
        events=HISTORY + TESTED,
        expect=[trigger({}, "2h", "key3")],
    ),
    Case(
        id="field_a",
        ea2="test_new_term: the same events, field a -> no match",
        rule=new_value("a"),
        events=HISTORY + TESTED,
        expect=[],
    ),
    Case(
        id="missing_field",
        ea2="test_new_term: alert_on_missing_field, event {a: key2} -> a match (b missing); "
        "written as a match rule, since new_value skips events without its field",
        rule="""
            group_by: []
            where: {b: {exists: false}}
            detect: {type: match}
        """,
        events=[*HISTORY, {"ts": "2h", "a": "key2"}],
        expect=[trigger({}, "2h", 1)],
    ),
    Case(
        id="nested_field",
        ea2="test_new_term_nested_field: field b.c, event {b: {c: key3}} -> a match",
        rule=new_value("b.c"),
        events=[
            {"ts": 0, "b": {"c": "key1"}},
            {"ts": 0, "b": {"c": "key2"}},
            {"ts": "2h", "b": {"c": "key3"}},
        ],
        expect=[trigger({}, "2h", "key3")],
    ),
    Case(
        id="composite",
        ea2="test_new_term_with_composite_fields: [a, b, c] knows (key1, key2, key3/key4); "
        "(key1, key2, key3) -> none, (key1, key2, key5) -> a match, key4 with an unrelated "
        "d -> none",
        rule=new_value("c", group_by="[a, b]"),
        events=[
            {"ts": 0, "a": "key1", "b": "key2", "c": "key3"},
            {"ts": 0, "a": "key1", "b": "key2", "c": "key4"},
            {"ts": "2h", "a": "key1", "b": "key2", "c": "key3"},
            {"ts": "2h", "a": "key1", "b": "key2", "c": "key5"},
            {"ts": "2h", "a": "key1", "b": "key2", "c": "key4", "d": "unrelated_value"},
        ],
        expect=[trigger({"a": "key1", "b": "key2"}, "2h", "key5")],
    ),
    Case(
        id="composite_new_group",
        ea2="test_new_term_with_composite_fields: [d, e.f], event {d: key4, e: {f: key6}} -> "
        "a match; with `warmup: 0` a new group's first value is new",
        rule="""
            group_by: [d]
            detect: {type: new_value, field: e.f, warmup: 0}
        """,
        events=[{"ts": "2h", "d": "key4", "e": {"f": "key6"}}],
        expect=[trigger({"d": "key4"}, "2h", "key6")],
    ),
    Case(
        id="warmup_learns",
        ea2="test_new_term with no known terms: an empty terms window, then key1 and key3 -> "
        "two matches",
        rule=new_value("b"),
        events=[{"ts": 0, "b": "key1"}, {"ts": "30m", "b": "key3"}],
        expect=[],
        differs="values seen in the warmup (1 h after the group's first event) are learned, "
        "not paged; `warmup: 0` pages them (docs: new_term: history and forgetting)",
    ),
    Case(
        id="value_forgotten",
        ea2="test_new_term, key3 back: key3 again after two days -> EA2 (running all along) "
        "does not match again",
        rule=new_value("b"),
        events=[
            *HISTORY,
            {"ts": "2h", "b": "key3"},
            {"ts": "6h", "b": "key1", "repeat": 8, "every": "6h"},
            {"ts": "2d3h", "b": "key3"},
        ],
        expect=[trigger({}, "2h", "key3"), trigger({}, "2d3h", "key3")],
        differs="key3 was not seen for longer than `lookback` (1 d): it is new again "
        "(docs: new_term: history and forgetting)",
    ),
    Case(
        id="group_forgotten",
        ea2="test_new_term, source back: silent for two days, then a new term key9 -> EA2 matches",
        rule=new_value("b"),
        events=[*HISTORY, {"ts": "2h", "b": "key3"}, {"ts": "2d3h", "b": "key9"}],
        expect=[trigger({}, "2h", "key3")],
        differs="a group idle for longer than `lookback` is forgotten and learns again in "
        "the warmup when it returns (docs: new_term: history and forgetting)",
    ),
]
