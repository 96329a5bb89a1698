"""EA2 `cardinality` as Signalfire `distinct`: max_cardinality is `op: ">"`, min is `"<"`.

EA2 matches when a key has more than max_cardinality values in `timeframe` (and again for
every further value), or fewer than min_cardinality once `timeframe` has passed since the
key's first event. The cases use `resolve_after: 0s`, so an episode ends where its
condition does; window buckets are 10 s (10 m / 60), so a value leaves the window between
10 m and 10m10s after its last event.
"""

from tests.unit.conformance.harness import Case, resolve, trigger

USERS_15M_LATER = [{"ts": "15m", "user": u} for u in ("nick", "rochelle", "ellis")]
CLEARS = ("10m", "10m10s")

CASES = [
    Case(
        id="max",
        ea2="test_cardinality_max: max_cardinality 4 in 10 m; bill, coach, zoey, louis, "
        "coach, francis, then three more users 15 min later -> one match, at francis",
        rule="""
            group_by: []
            resolve_after: 0s
            detect: {type: distinct, field: user, window: 10m, op: ">", threshold: 4}
        """,
        events=[
            *({"ts": 0, "user": u} for u in ("bill", "coach", "zoey", "louis", "coach")),
            {"ts": 0, "user": "francis"},
            *USERS_15M_LATER,
        ],
        expect=[trigger({}, 0, 5), resolve({}, CLEARS)],
    ),
    Case(
        id="min",
        ea2="test_cardinality_min: min_cardinality 4 in 10 m; foo, bar at 0; faz, fuz, fiz "
        "at 5 m; faz at 15 m -> one match, at 15 m (a full timeframe after the first event)",
        rule="""
            group_by: []
            resolve_after: 0s
            detect: {type: distinct, field: user, window: 10m, op: "<", threshold: 4}
        """,
        events=[
            {"ts": 0, "user": "foo"},
            {"ts": 0, "user": "bar"},
            *({"ts": "5m", "user": u} for u in ("faz", "fuz", "fiz")),
            {"ts": "15m", "user": "faz"},
        ],
        # 1 value at 0 (low while active); 4 at 5 m; 3 again once foo and bar leave
        expect=[trigger({}, 0, 1), resolve({}, "5m"), trigger({}, CLEARS, 3)],
        differs="a `<` condition is evaluated while the group has events in the window, from "
        "its first event; EA2 waits a full timeframe (docs: `<` conditions and silence)",
    ),
    Case(
        id="query_key",
        ea2="test_cardinality_qk: max_cardinality 2 per user; baz gets faz, fuz, fiz at 5 m "
        "-> two matches for baz (fuz and fiz)",
        rule="""
            group_by: [user]
            detect: {type: distinct, field: foo, window: 10m, op: ">", threshold: 2}
        """,
        events=[
            *({"ts": 0, "user": u, "foo": f"foo{u}"} for u in ("foo", "bar", "baz")),
            *({"ts": "5m", "user": "baz", "foo": v} for v in ("faz", "fuz", "fiz")),
        ],
        expect=[trigger({"user": "baz"}, "5m", 3)],
        differs="one trigger while the count stays above 2; EA2 matches once per further "
        "value (docs: One page per episode)",
    ),
    Case(
        id="nested_field",
        ea2="test_cardinality_nested_cardinality_field: field d.ip, max 4; four ips, a "
        "duplicate, an event without d, a fifth ip; three more 15 min later -> one match",
        rule="""
            group_by: []
            resolve_after: 0s
            detect: {type: distinct, field: d.ip, window: 10m, op: ">", threshold: 4}
        """,
        events=[
            *({"ts": 0, "d": {"ip": f"10.0.0.{n}"}} for n in (1, 2, 3, 4, 4)),
            {"ts": 0},
            {"ts": 0, "d": {"ip": "10.0.0.5"}},
            *({"ts": "15m", "d": {"ip": f"10.0.0.{n}"}} for n in (6, 7, 8)),
        ],
        expect=[trigger({}, 0, 5), resolve({}, CLEARS)],
    ),
    Case(
        id="json_types",
        ea2="CardinalityRule (no EA2 test): EA2 compares values by Python equality, so "
        '1, 1.0 and true are one value; with 1, 1.0, true, "1" and max 2 -> no match',
        rule="""
            group_by: []
            detect: {type: distinct, field: v, window: 10m, op: ">", threshold: 2}
        """,
        events=[
            {"ts": 0, "v": 1},
            {"ts": "1s", "v": 1.0},
            {"ts": "2s", "v": True},
            {"ts": "3s", "v": "1"},
        ],
        expect=[trigger({}, "3s", 3)],
        differs='values are JSON-typed: 1 and 1.0 are one value, true and "1" two others '
        "(docs: Values are JSON-typed)",
    ),
]
