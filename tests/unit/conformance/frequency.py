"""EA2 `frequency` (num_events in timeframe) as a Signalfire `threshold` count with `op: ">="`.

EA2's window holds the events newer than its newest event minus `timeframe`; a match is
`count >= num_events`, after which EA2 empties the window and starts counting again.
"""

from tests.unit.conformance.harness import Case, resolve, trigger

QLO = {"username": "qlo"}


def in_an_hour(num_events: int, group_by: str = "[]") -> str:
    return f"""
        group_by: {group_by}
        detect: {{type: threshold, aggregate: count, window: 1h, op: ">=", threshold: {num_events}}}
    """


COUNT_100 = """
    group_by: []
    detect: {type: threshold, aggregate: count, window: 1h, bucket: 1m, op: ">=", threshold: 100}
"""

CASES = [
    Case(
        id="freq_59_of_60",
        ea2="test_freq: 60 events a second apart, num_events 59, timeframe 1 h -> one match",
        rule=in_an_hour(59),
        events=[{"ts": 0, **QLO, "repeat": 60, "every": "1s"}],
        expect=[trigger({}, "58s", 59)],
    ),
    Case(
        id="freq_query_key",
        ea2="test_freq: the same with query_key username -> one match for qlo",
        rule=in_an_hour(59, "[username]"),
        events=[{"ts": 0, **QLO, "repeat": 60, "every": "1s"}],
        expect=[trigger(QLO, "58s", 59)],
    ),
    Case(
        id="freq_61_of_60",
        ea2="test_freq: num_events 61 -> no match",
        rule=in_an_hour(61),
        events=[{"ts": 0, **QLO, "repeat": 60, "every": "1s"}],
        expect=[],
    ),
    Case(
        id="freq_count_normal",
        ea2="test_freq_count: counts 75, 10, 10, 6 at 0, 15, 25, 45 m, num_events 100 -> "
        "a match at 45 m",
        rule=COUNT_100,
        events=[
            {"ts": 0, "repeat": 75},
            {"ts": "15m", "repeat": 10},
            {"ts": "25m", "repeat": 10},
            {"ts": "45m", "repeat": 6},
        ],
        expect=[trigger({}, "45m", 100)],
    ),
    Case(
        id="freq_count_late",
        ea2="test_freq_count: 75 at 0, 10 at 45 m, 10 at 55 m, 6 at 65 m, then 75 at 60 m -> "
        "EA2 sorts the 75 into its window and matches (101 in (5 m, 65 m])",
        rule=COUNT_100,
        events=[
            {"ts": 0, "repeat": 75},
            {"ts": "45m", "repeat": 10},
            {"ts": "55m", "repeat": 10},
            {"ts": "65m", "repeat": 6},
            {"ts": "60m", "repeat": 75},
        ],
        expect=[],
        late=75,
        differs="the 75 events at 60 m arrive when the stream is at 65 m, past the allowed "
        "lateness (30 s): counted as late, not applied (docs: Late data)",
    ),
    Case(
        id="freq_count_within_lateness",
        ea2="test_freq_count: the same input to a worker that allows 10 m of lateness -> "
        "one match, as in EA2",
        rule=COUNT_100,
        events=[
            {"ts": 0, "repeat": 75},
            {"ts": "45m", "repeat": 10},
            {"ts": "55m", "repeat": 10},
            {"ts": "65m", "repeat": 6},
            {"ts": "60m", "repeat": 75},
        ],
        lateness="10m",
        # 26 events in the window at 65 m; the 74th late one makes 100, at stream time 65 m
        expect=[trigger({}, "65m", 100)],
    ),
    Case(
        id="freq_out_of_order",
        ea2="test_freq_out_of_order: 60 events a second apart added in shuffled slices, plus "
        "50 events an hour older; num_events 59 -> one match, once the last slice arrives",
        rule=in_an_hour(59, "[username]"),
        events=[
            {"ts": "2h", **QLO, "repeat": 10, "every": "1s"},  # events[:10]
            {"ts": "1h", **QLO, "repeat": 50},  # 'from before the first occurrence'
            {"ts": "2h15s", **QLO, "repeat": 5, "every": "1s"},  # events[15:20]
            {"ts": "2h10s", **QLO, "repeat": 5, "every": "1s"},  # events[10:15]
            {"ts": "2h20s", **QLO, "repeat": 35, "every": "1s"},  # events[20:55]
            {"ts": "2h57s", **QLO, "repeat": 3, "every": "1s"},  # events[57:]
            {"ts": "2h55s", **QLO, "repeat": 2, "every": "1s"},  # events[55:57]
        ],
        # The hour-old events are late here (EA2 drops them as outside its window); the
        # shuffled slices are at most 4 s behind the stream and all count.
        late=50,
        expect=[trigger(QLO, "2h59s", 59)],
    ),
    Case(
        id="freq_terms",
        ea2="test_freq_terms: per-user counts A 1 / B 5 at 1 m, A 8 / B 5 at 10 m, A 3 at "
        "25 m; num_events 10 -> a match for B, then one for A",
        rule=in_an_hour(10, "[username]"),
        events=[
            {"ts": "1m", "username": "userA"},
            {"ts": "1m", "username": "userB", "repeat": 5},
            {"ts": "10m", "username": "userA", "repeat": 8},
            {"ts": "10m", "username": "userB", "repeat": 5},
            {"ts": "25m", "username": "userA", "repeat": 3},
        ],
        expect=[
            trigger({"username": "userB"}, "10m", 10),
            trigger({"username": "userA"}, "25m", 10),
        ],
    ),
    Case(
        id="freq_realert",
        ea2="test_freq, run on 120 events: EA2 empties its window after a match and matches "
        "again at the 118th event (two matches)",
        rule=in_an_hour(59),
        events=[{"ts": 0, **QLO, "repeat": 120, "every": "1s"}],
        expect=[trigger({}, "58s", 59)],
        differs="the count stays >= 59 for the rest of the hour: one episode, one trigger "
        "(docs: One page per episode)",
    ),
    Case(
        id="freq_throttle",
        ea2="test_freq with EA2's realert 5 m (elastalert.py, not a rule-type test): 3 events "
        "at 0, then one every 10 s from 2 m; num_events 3 in 1 m -> alerts at 0 and at the "
        "first match after the realert span (5m20s); matches in between are dropped",
        rule="""
            group_by: []
            resolve_after: 0s
            throttle: 5m
            detect: {type: threshold, window: 1m, bucket: 1s, op: ">=", threshold: 3}
        """,
        events=[{"ts": 0, "repeat": 3}, {"ts": "2m", "repeat": 25, "every": "10s"}],
        # the first episode clears as 0 s leaves the window; the second starts at 2m20s,
        # inside the throttle, and triggers when the throttle ends, still holding
        expect=[
            trigger({}, 0, 3),
            resolve({}, ("1m", "1m1s")),
            trigger({}, "5m", 6),
        ],
        differs="an episode that starts inside the throttle is delayed to the throttle's "
        "end, not dropped (docs: Throttle and realert)",
    ),
    Case(
        id="freq_query_key_json_types",
        ea2="FrequencyRule query_key (no EA2 test): EA2 keys groups by Python equality, so "
        "1, 1.0 and true are one key -> a match at the second event (1 and true)",
        rule="""
            group_by: [v]
            detect: {type: threshold, aggregate: count, window: 10m, op: ">=", threshold: 2}
        """,
        events=[
            {"ts": 0, "v": 1},
            {"ts": "1s", "v": True},
            {"ts": "2s", "v": "1"},
            {"ts": "3s", "v": 1.0},
        ],
        expect=[trigger({"v": 1}, "3s", 2)],
        differs='group values are JSON-typed: 1 and 1.0 are one group, true and "1" are '
        "two others (docs: Values are JSON-typed)",
    ),
]
