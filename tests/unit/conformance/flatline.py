"""EA2 `flatline` (fewer than `threshold` events in `timeframe`) as Signalfire `absence`.

`absence` is a flatline with threshold 1 for a group that was seen: it fires when the
watermark reaches the group's last event + `window`. EA2 checks at each run
(`garbage_collect(t)`, written here as `advance(t)`: the stream clock moves without events)
and matches again at every run while the key stays flat. A threshold above 1 for an active
group is a `threshold` with `op: "<"` (see `flatline.low_but_active`).
"""

from typing import Any

from tests.unit.conformance.harness import Case, advance, resolve, trigger

ABSENT_30S = """
    group_by: []
    detect: {type: absence, window: 30s}
"""
BY_QK = """
    group_by: [qk]
    detect: {type: absence, window: 30s}
"""
# hits(1) and hits(40)[0:10]: two events at 0 s, then one a second to 9 s
FIRST_TEN: list[dict[str, Any]] = [{"ts": 0}, {"ts": 0, "repeat": 10, "every": "1s"}]
# hits(40)[30:]: one a second from 30 to 39 s
LAST_TEN: list[dict[str, Any]] = [{"ts": "30s", "repeat": 10, "every": "1s"}]

CASES = [
    Case(
        id="runs",
        ea2="test_flatline: threshold 2, timeframe 30 s; events 0-9 s; runs at 11, 45, 50 s; "
        "then events 30-39 s; runs at 55 s, 1m11s -> matches at 45, 50 and 71 s",
        rule=ABSENT_30S,
        events=[
            *FIRST_TEN,
            advance("11s"),
            advance("45s"),
            advance("50s"),
            *LAST_TEN,
            advance("55s"),
            advance("1m11s"),
        ],
        lateness=0,  # EA2 takes each run's query as final
        late=10,
        # silent from the last event (9 s) for 30 s; the value is the seconds of silence
        expect=[trigger({}, "39s", 30.0)],
        differs="one page per silence, at its deadline (last event + 30 s), not at each run; "
        "the 30-39 s events come after the stream passed 50 s and are late "
        "(docs: Flatline and absence; One page per episode; Late data)",
    ),
    Case(
        id="in_time_order",
        ea2="test_flatline in event-time order: events 0-9 s and 30-39 s, the last run at "
        "1m11s -> EA2 matches once, at 71 s",
        rule=ABSENT_30S,
        events=[*FIRST_TEN, *LAST_TEN],
        until="1m11s",
        expect=[trigger({}, "1m9s", 30.0)],
    ),
    Case(
        id="low_but_active",
        ea2="test_flatline in event-time order, as a `<` threshold: fewer than 2 in 30 s "
        "-> EA2 matches once, at 71 s, when its window is empty",
        rule="""
            group_by: []
            resolve_after: 0s
            detect: {type: threshold, window: 30s, bucket: 1s, op: "<", threshold: 2}
        """,
        events=[*FIRST_TEN, *LAST_TEN],
        until="1m11s",
        # The first event alone is 1 < 2 (the group is active and low), the second ends it.
        # (t-30 s, t] holds only the 39 s event from t = 68 s (a window may hold events up
        # to one bucket older): 1 < 2 again. Empty from 69 s: the group is no longer active.
        expect=[
            trigger({}, 0, 1),
            resolve({}, 0),
            trigger({}, ("68s", "69s"), 1),
            resolve({}, ("69s", "70s")),
        ],
        differs="a `<` threshold describes a group that is active but low: it holds from the "
        "first event, and again when the count falls to 1, and ends when the window is empty "
        "(docs: `<` conditions and silence)",
    ),
    Case(
        id="no_data",
        ea2="test_flatline_no_data: no events at all; runs at 0 and 35 m -> one match",
        rule=ABSENT_30S,
        events=[advance(0)],
        until="35m",
        expect=[],
        differs="absence watches groups that were seen; a source that never sent anything "
        "has no group (docs: Flatline and absence)",
    ),
    Case(
        id="count",
        ea2="test_flatline_count: threshold 1; a count of 1 at 0 s, runs at 10 and 20 s, "
        "counts of 0 at 15 and 35 s -> one match, at the 35 s count",
        rule=ABSENT_30S,
        events=[{"ts": 0}, advance("10s"), advance("15s"), advance("20s"), advance("35s")],
        expect=[trigger({}, "30s", 30.0)],
    ),
    Case(
        id="query_key",
        ea2="test_flatline_query_key: key1, key2, key3 at 0 s, key3 again at 20 s; runs at "
        "11 s, 45 s, 1m20s -> key1 and key2 at 45 s, then all three at 80 s (5 matches)",
        rule=BY_QK,
        events=[
            {"ts": 0, "qk": "key1"},
            {"ts": 0, "qk": "key2"},
            {"ts": 0, "qk": "key3"},
            advance("11s"),
            {"ts": "20s", "qk": "key3"},
            advance("45s"),
            advance("1m20s"),
        ],
        expect=[
            trigger({"qk": "key1"}, "30s", 30.0),
            trigger({"qk": "key2"}, "30s", 30.0),
            trigger({"qk": "key3"}, "50s", 30.0),
        ],
        differs="one page per silence: EA2 matches again at every run while a key stays "
        "flat (docs: One page per episode)",
    ),
    Case(
        id="silence_ends",
        ea2="test_flatline_query_key, key1 back: key1 again at 60 s, the last run at 80 s -> "
        "key1 and key2 at 45 s, then key2 and key3 at 80 s",
        rule="""
            group_by: [qk]
            resolve_after: 10s
            detect: {type: absence, window: 30s}
        """,
        events=[
            {"ts": 0, "qk": "key1"},
            {"ts": 0, "qk": "key2"},
            {"ts": 0, "qk": "key3"},
            {"ts": "20s", "qk": "key3"},
            {"ts": "60s", "qk": "key1"},
        ],
        until="80s",
        # key1's silence (30 s) fell due before its next event (60 s), whatever the allowed
        # lateness; that event ends it, and the resolve comes resolve_after later
        expect=[
            trigger({"qk": "key1"}, "30s", 30.0),
            trigger({"qk": "key2"}, "30s", 30.0),
            trigger({"qk": "key3"}, "50s", 30.0),
            resolve({"qk": "key1"}, "70s"),
        ],
        differs="one page per silence, and a resolve once the group is back; EA2 matches "
        "every run (docs: One page per episode; Resolves)",
    ),
    Case(
        id="forget_keys",
        ea2="test_flatline_forget_query_key: forget_keys; key1 at 0 s; runs at 11, 45, 71 s "
        "-> one match, then the key is forgotten",
        rule=BY_QK,
        events=[{"ts": 0, "qk": "key1"}, advance("11s"), advance("45s"), advance("1m11s")],
        expect=[trigger({"qk": "key1"}, "30s", 30.0)],
    ),
]
