"""EA2 `any`, `blacklist` and `whitelist` as Signalfire `match` rules with a `where` filter.

EA2's compare rules match every event whose `compare_key` is (blacklist) or is not
(whitelist) in a list; `ignore_null` skips events without the key. In Signalfire that is
`in` / `not_in`, with `exists: true` for ignore_null (`not_in` matches a missing field).
The cases set `throttle: 0s`: EA2's tests count matches, before its `realert` (1 min).
"""

from typing import Any

from tests.unit.conformance.harness import Case, resolve, trigger

# 12:34:56 .. 12:35:00 in EA2's test
TERMS: list[dict[str, Any]] = [
    {"ts": 0, "term": "good"},
    {"ts": "1s", "term": "bad"},
    {"ts": "2s", "term": "also good"},
    {"ts": "3s", "term": "really bad"},
    {"ts": "4s", "no_term": "bad"},
]


def match(where: str, extra: str = "throttle: 0s") -> str:
    return f"""
        group_by: []
        {extra}
        where: {where}
        detect: {{type: match}}
    """


CASES = [
    Case(
        id="any",
        ea2="test_any: one event -> one match",
        rule="""
            group_by: []
            detect: {type: match}
        """,
        events=[{"ts": 0}],
        expect=[trigger({}, 0, 1)],
    ),
    Case(
        id="blacklist",
        ea2="test_blacklist: blacklist [bad, really bad] on term -> matches for bad and really bad",
        rule=match('{term: {in: [bad, "really bad"]}}'),
        events=TERMS,
        expect=[trigger({}, "1s", 1), trigger({}, "3s", 1)],
    ),
    Case(
        id="whitelist",
        ea2="test_whitelist: whitelist [good, also good], ignore_null -> matches for bad and "
        "really bad",
        rule=match('{term: {exists: true, not_in: [good, "also good"]}}'),
        events=TERMS,
        expect=[trigger({}, "1s", 1), trigger({}, "3s", 1)],
    ),
    Case(
        id="whitelist_dont_ignore_nulls",
        ea2="test_whitelist_dont_ignore_nulls: the same without ignore_null -> also a match "
        "for the event without term",
        rule=match('{term: {not_in: [good, "also good"]}}'),
        events=TERMS,
        expect=[trigger({}, "1s", 1), trigger({}, "3s", 1), trigger({}, "4s", 1)],
    ),
    Case(
        id="blacklist_resolve",
        ea2="test_blacklist, repeated: bad at 0, 30 s, 3 m and 15 m -> four matches (EA2 sends "
        "no resolve)",
        rule=match("{term: bad}", extra="resolve_after: 1m"),
        events=[
            {"ts": 0, "term": "bad"},
            {"ts": "30s", "term": "bad"},
            {"ts": "3m", "term": "bad"},
            {"ts": "15m", "term": "bad"},
        ],
        until="20m",
        # throttle 10m (the default): 30 s and 3 m are suppressed; a resolve 1 m after the
        # last occurrence, and at most one per trigger (none for the suppressed 3 m)
        expect=[
            trigger({}, 0, 1),
            resolve({}, "1m30s"),
            trigger({}, "15m", 1),
            resolve({}, "16m"),
        ],
        differs="occurrences are throttled per group (10 m by default; EA2's realert is "
        "1 min) and, with resolve_after, each trigger gets one resolve "
        "(docs: Throttle and realert; Resolves)",
    ),
]
