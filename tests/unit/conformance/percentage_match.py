"""EA2 `percentage_match` as Signalfire `ratio`, one rule per bound.

EA2 runs one aggregation per query (`buffer_time`, 5 m) and matches when the percentage of
documents passing `match_bucket_filter` is above max_percentage or below min_percentage
(strictly). Here each query is a batch of 100 events at one time, 10 min apart; the ratio is
a fraction (0.75 for 75 %), and `min_count: 100` (EA2's min_denominator) evaluates it only
over a whole batch. `resolve_after: 0s` ends each episode when its batch leaves the window.
EA2's queries with no documents (0, 0) or no count (None) have no events to translate.
"""

from typing import Any

from tests.unit.conformance.harness import Case, resolve, trigger


def batch(ts: str | int, matching: int, other: int, **fields: Any) -> list[dict[str, Any]]:
    steps = [{"ts": ts, "term": "term_val", "repeat": matching, **fields}]
    return steps + [{"ts": ts, "term": "other", "repeat": other, **fields}]


def ratio(op: str, threshold: float, min_count: int = 100, group_by: str = "[]") -> str:
    return f"""
        group_by: {group_by}
        resolve_after: 0s
        detect:
          type: ratio
          numerator: {{term: term_val}}
          window: 5m
          op: "{op}"
          threshold: {threshold}
          min_count: {min_count}
    """


CASES = [
    Case(
        id="max",
        ea2="test_percentage_match: max_percentage 75; queries with 26, 74, 75 (the bound), "
        "24 and 76 % matching -> one match, for 76 %",
        rule=ratio(">", 0.75),
        events=[
            *batch(0, 26, 74),
            *batch("10m", 74, 26),
            *batch("20m", 75, 25),
            *batch("30m", 24, 76),
            *batch("40m", 76, 24),
        ],
        expect=[trigger({}, "40m", 0.76)],
    ),
    Case(
        id="min",
        ea2="test_percentage_match: min_percentage 25; queries with 26, 74, 25 (the bound), "
        "76 and 24 % matching -> one match, for 24 %",
        rule=ratio("<", 0.25),
        events=[
            *batch(0, 26, 74),
            *batch("10m", 74, 26),
            *batch("20m", 25, 75),
            *batch("30m", 76, 24),
            *batch("40m", 24, 76),
        ],
        expect=[trigger({}, "40m", 0.24)],
    ),
    Case(
        id="both_bounds",
        ea2="test_percentage_match: both bounds, queries with 24 then 76 % matching -> two "
        "matches (here the lower bound's rule; a resolve when its batch leaves the window)",
        rule=ratio("<", 0.25),
        events=[*batch(0, 24, 76), *batch("10m", 76, 24)],
        # the batch at 0 leaves the 5 m window within one bucket (5 s)
        expect=[trigger({}, 0, 0.24), resolve({}, ("5m", "5m5s"))],
    ),
    Case(
        id="nested_query_key",
        ea2="test_percentage_match: query_key subdict1.subdict2 -> the match carries the "
        "key's value",
        rule=ratio(">", 0.75, group_by="[subdict1.subdict2]"),
        events=batch(0, 77, 23, subdict1={"subdict2": "qk_val"}),
        expect=[trigger({"subdict1.subdict2": "qk_val"}, 0, 0.77)],
    ),
    Case(
        id="every_event",
        ea2="test_percentage_match: max 75 %, a query with 26 % matching -> no match",
        rule=ratio(">", 0.75, min_count=1),
        events=batch(0, 26, 74),
        # the 26 matching events come first: 1/1 > 0.75 at once; 26/35 <= 0.75 nine later
        expect=[trigger({}, 0, 1.0), resolve({}, 0)],
        differs="the ratio is evaluated at every event, not once per query: without a "
        "min_count (EA2's min_denominator) the first events decide (docs: Evaluated at every "
        "event)",
    ),
]
