"""EA2 `spike` as a Signalfire `spike` with `baseline_windows: 1`.

EA2 compares two adjacent windows of `timeframe` each (current, reference): up when
cur >= ref x spike_height, down when cur <= ref / spike_height, once the key has been seen
for two timeframes. `threshold_cur` is Signalfire's `min_count` (for up); `threshold_ref`
has no equivalent. Signalfire judges spikes on bucket boundaries, over whole buckets: at a
boundary t the current window is [t-w, t) and the baseline window [t-2w, t-w). The cases pin
`bucket: 1s` and put events on whole seconds, so a spike EA2 sees at an event during second s
is seen by Signalfire at the boundary s + 1 s, when that second is complete.
"""

from typing import Any

from tests.unit.conformance.harness import Case, resolve, trigger


def spike_rule(
    direction: str = "both",
    factor: float = 2,
    window: str = "10s",
    extra: str = "",
    group_by: str = "[]",
    bucket: str = "1s",
) -> str:
    return f"""
        group_by: {group_by}
        detect:
          type: spike
          window: {window}
          bucket: {bucket}
          factor: {factor}
          baseline_windows: 1
          direction: {direction}
          {extra}
    """


def per_second(start: int, stop: int, repeat: int = 1, **fields: Any) -> list[dict[str, Any]]:
    """One event a second in [start, stop) s; `repeat` events 1 ms apart each second."""
    return each_second(start, stop, (fields, repeat))


def each_second(
    start: int, stop: int, *senders: tuple[dict[str, Any], int]
) -> list[dict[str, Any]]:
    """Every second in [start, stop) s, each sender's events in turn (1 ms apart)."""
    return [
        {"ts": f"{s}s", "repeat": repeat, "every": "1ms", **fields}
        for s in range(start, stop)
        for fields, repeat in senders
    ]


# hits(100), one a second; from 50 s on every second has a second event 1 ms later
CONSTANT = per_second(0, 100)
DOUBLED = per_second(0, 50) + per_second(50, 100, repeat=2)
QLO: dict[str, Any] = {"username": "qlo"}
BOB: dict[str, Any] = {"username": "bob"}


def terms(*counts: tuple[str, str, int]) -> list[dict[str, Any]]:
    """EA2 terms data ({ts: [{key, doc_count}]}) as that many events at that time."""
    return [{"ts": ts, "username": user, "repeat": n} for ts, user, n in counts if n]


TERMS_1_TO_4 = terms(
    ("1m", "userA", 10),
    ("1m", "userB", 5),
    ("10m", "userA", 22),
    ("10m", "userB", 5),
    ("25m", "userA", 25),
    ("25m", "userB", 27),
    ("27m", "userA", 10),
    ("27m", "userB", 12),
    ("27m", "userC", 100),
)


def surge_then_back() -> list[dict[str, Any]]:
    """1 event per 6 s for 10 min, 20 per 6 s for 4 min, then 1 per 6 s again until 20 min."""
    steps = []
    for t in range(0, 20 * 60, 6):
        steps.append({"ts": f"{t}s", "repeat": 20 if 600 <= t < 840 else 1})
    return steps


CASES = [
    Case(
        id="constant_rate",
        ea2="test_spike: one event a second for 100 s, timeframe 10 s, spike_height 2, both "
        "-> no match",
        rule=spike_rule(),
        events=CONSTANT,
        expect=[],
    ),
    Case(
        id="constant_rate_default_buckets",
        ea2="test_spike (constant rate) with Signalfire's default buckets: one event every "
        "30 s for 15 min, window 1 m, factor 1.5, baseline_windows 4 -> no match",
        rule="""
            group_by: []
            detect: {type: spike, window: 1m, factor: 1.5, baseline_windows: 4}
        """,
        events=[{"ts": 0, "repeat": 30, "every": "30s"}],
        expect=[],
    ),
    Case(
        id="double_rate",
        ea2="test_spike: the rate doubles from 50 s, up -> one match",
        rule=spike_rule("up"),
        events=DOUBLED,
        # at the 60 s boundary: 20 events in [50, 60), 10 in [40, 50); at 59 s only 19
        expect=[trigger({}, "60s", 20)],
    ),
    Case(
        id="double_rate_height_3",
        ea2="test_spike: the same with spike_height 3 -> no match",
        rule=spike_rule("up", factor=3),
        events=DOUBLED,
        expect=[],
    ),
    Case(
        id="dip",
        ea2="test_spike: no events from 50 to 74 s, down, spike_height 3 -> one match "
        "(EA2 sees the dip at the next event, 75 s)",
        rule=spike_rule("down", factor=3),
        events=per_second(0, 50) + per_second(75, 100),
        # at the 57 s boundary the current window [47, 57) holds 47..49 s: 3 <= 10 / 3
        expect=[trigger({}, "57s", 3)],
        differs="windows drain as time passes: the dip is seen at 56 s, when the window "
        "falls to 3 events, not at the next event (docs: Spike; Event time, not run time)",
    ),
    Case(
        id="threshold_ref",
        ea2="test_spike: threshold_ref 11 (the reference window has at most 10) -> no match",
        rule=spike_rule("up"),
        events=DOUBLED,
        expect=[trigger({}, "60s", 20)],
        differs="Signalfire has no minimum for the baseline (threshold_ref); only a zero "
        "baseline never fires (docs: Spike)",
    ),
    Case(
        id="threshold_cur",
        ea2="test_spike: threshold_cur 30 (the current window has at most 20) -> no match",
        rule=spike_rule("up", extra="min_count: 30"),
        events=DOUBLED,
        expect=[],
    ),
    Case(
        id="long_timeframe",
        ea2="test_spike: timeframe 30 s, threshold_cur 25, alert_on_new_data without a "
        "query_key (so an ordinary spike) -> one match",
        rule=spike_rule("up", window="30s", extra="min_count: 25"),
        events=DOUBLED,
        # at the 80 s boundary: 60 events in [50, 80), 30 in [20, 50)
        expect=[trigger({}, "80s", 60)],
    ),
    Case(
        id="query_key_constant",
        ea2="test_spike_query_key: qlo at a constant rate -> no match",
        rule=spike_rule(group_by="[username]"),
        events=per_second(0, 100, **QLO),
        expect=[],
    ),
    Case(
        id="query_key_other_user",
        ea2="test_spike_query_key: from 50 s bob sends as much as qlo -> no match",
        rule=spike_rule(group_by="[username]"),
        events=per_second(0, 50, **QLO) + each_second(50, 99, (BOB, 1), (QLO, 1)),
        expect=[],
    ),
    Case(
        id="query_key_same_user",
        ea2="test_spike_query_key: from 50 s qlo sends twice as much (and bob some) -> one "
        "match, for qlo",
        rule=spike_rule(group_by="[username]"),
        events=per_second(0, 50, **QLO) + each_second(50, 99, (BOB, 1), (QLO, 2)),
        expect=[trigger(QLO, "60s", 20)],
    ),
    Case(
        id="terms_user_b",
        ea2="test_spike_terms: per-user counts at 1, 10, 25 m, timeframe 10 m, threshold_ref "
        "5 -> a spike for userB only (the case uses direction up: see spike.dip for down)",
        rule=spike_rule("up", window="10m", group_by="[username]", bucket="1m"),
        # the 27 m counts move the clock past the 26 m boundary, where the minute of 25 m is
        # complete: userB's 27 in [16 m, 26 m) against 5 in [6 m, 16 m) (userA: 25 vs 22)
        events=TERMS_1_TO_4[:7],
        expect=[trigger({"username": "userB"}, "26m", 27)],
    ),
    Case(
        id="terms_new_user",
        ea2="test_spike_terms: threshold_cur 50, userC new with 100 at 27 m -> no match",
        rule=spike_rule(
            "up", window="10m", group_by="[username]", extra="min_count: 50", bucket="1m"
        ),
        events=TERMS_1_TO_4,
        expect=[],
    ),
    Case(
        id="terms_alert_on_new_data",
        ea2="test_spike_terms: alert_on_new_data -> a match for userC (new, 100 at 27 m), "
        "then one for userD (new, 100 at 30 m)",
        rule=spike_rule(
            "up", window="10m", group_by="[username]", extra="min_count: 50", bucket="1m"
        ),
        events=TERMS_1_TO_4 + terms(("30m", "userD", 100), ("30m", "userC", 100)),
        expect=[],
        differs="a group needs baseline_windows + 1 windows of history and a non-zero "
        "baseline; there is no alert_on_new_data (docs: Spike)",
    ),
    Case(
        id="sustained_surge",
        ea2="test_spike_terms_query_key_alert_on_new_data: after a spike the higher rate "
        "goes on -> no more matches (EA2 empties its reference window after a match)",
        rule="""
            group_by: []
            resolve_after: 0s
            detect: {type: spike, window: 1m, bucket: 1s, factor: 3, baseline_windows: 8}
        """,
        events=surge_then_back(),
        # 10 a minute, then 200 a minute from 10 m to 14 m: at the 10m07s boundary the window
        # [9m07s, 10m07s) holds 8 + 20 + 20 = 48 >= 3 x 10 (at 10m01s: 9 + 20 = 29). The
        # baseline stays the one from before the surge while it fires: it holds until the
        # window falls below 30 again, 20 + 9 = 29 in [13m49s, 14m49s).
        expect=[trigger({}, "10m7s", 48), resolve({}, "14m49s")],
        differs="one episode for the whole surge, which resolves when it ends; EA2 sends no "
        "resolve (docs: Spike; Resolves)",
    ),
]
