"""EA2 `metric_aggregation` as a Signalfire `threshold` on a field aggregate, one rule per bound.

EA2 runs one aggregation per query (`buffer_time`, 5 m) and matches when the value is above
max_threshold or below min_threshold (strictly); a query without documents gives None, no
match. Here each query is events at one time, 10 min apart, in a 5 m window (buckets of
5 s); `resolve_after: 0s` ends each episode when its events leave the window.
"""

from tests.unit.conformance.harness import Case, resolve, trigger


def avg_cpu(
    op: str, threshold: float, group_by: str = "[]", window: str = "5m", resolve_after: str = "0s"
) -> str:
    return f"""
        group_by: {group_by}
        resolve_after: {resolve_after}
        detect: {{type: threshold, aggregate: avg, field: cpu_pct, window: {window},
                  op: "{op}", threshold: {threshold}}}
    """


COMPOUND = {"qk": "qk_val"}

CASES = [
    Case(
        id="max",
        ea2="test_metric_aggregation: avg cpu_pct, max_threshold 0.8; values None, 0.5, "
        "0.79, 0.8, 0.81, 0.95 -> matches for 0.81 and 0.95",
        rule=avg_cpu(">", 0.8),
        events=[
            {"ts": 0},  # no cpu_pct: EA2's None
            {"ts": "10m", "cpu_pct": 0.5},
            {"ts": "20m", "cpu_pct": 0.79},
            {"ts": "30m", "cpu_pct": 0.8},
            {"ts": "40m", "cpu_pct": 0.81},
            {"ts": "50m", "cpu_pct": 0.95},
        ],
        expect=[
            trigger({}, "40m", 0.81),
            resolve({}, ("45m", "45m5s")),
            trigger({}, "50m", 0.95),
        ],
    ),
    Case(
        id="min",
        ea2="test_metric_aggregation: min_threshold 0.1; values None, 0.5, 0.1, 0.09, 0.05 "
        "-> matches for 0.09 and 0.05",
        rule=avg_cpu("<", 0.1),
        events=[
            {"ts": 0},
            {"ts": "10m", "cpu_pct": 0.5},
            {"ts": "20m", "cpu_pct": 0.1},
            {"ts": "30m", "cpu_pct": 0.09},
            {"ts": "40m", "cpu_pct": 0.05},
        ],
        expect=[
            trigger({}, "30m", 0.09),
            resolve({}, ("35m", "35m5s")),
            trigger({}, "40m", 0.05),
        ],
    ),
    Case(
        id="resolve_gap",
        ea2="test_metric_aggregation: max_threshold 0.8, a query with 0.81 and one with 0.95 "
        "six minutes later -> two matches",
        rule=avg_cpu(">", 0.8, resolve_after="1m"),
        events=[{"ts": 0, "cpu_pct": 0.81}, {"ts": "6m20s", "cpu_pct": 0.95}],
        # false once 0.81 leaves the window (5 m, within a bucket), resolved 1 m later, before
        # 0.95 arrives: a new episode. Whatever the allowed lateness, as resolve_after counts
        # in event time.
        expect=[
            trigger({}, 0, 0.81),
            resolve({}, ("6m", "6m5s")),
            trigger({}, "6m20s", 0.95),
        ],
    ),
    Case(
        id="compound_query_key",
        ea2="test_metric_aggregation_complex_query_key: compound key [qk, sub_qk], max 0.8; "
        "0.91, 0.95, 0.89 -> three matches",
        rule=avg_cpu(">", 0.8, group_by="[qk, sub_qk]"),
        events=[
            {"ts": 0, **COMPOUND, "sub_qk": "sub_qk_val1", "cpu_pct": 0.91},
            {"ts": 0, **COMPOUND, "sub_qk": "sub_qk_val2", "cpu_pct": 0.95},
            {"ts": 0, **COMPOUND, "sub_qk": "sub_qk_val3", "cpu_pct": 0.89},
        ],
        expect=[
            trigger({**COMPOUND, "sub_qk": "sub_qk_val1"}, 0, 0.91),
            trigger({**COMPOUND, "sub_qk": "sub_qk_val2"}, 0, 0.95),
            trigger({**COMPOUND, "sub_qk": "sub_qk_val3"}, 0, 0.89),
        ],
    ),
    Case(
        id="bucket_interval",
        ea2="test_metric_aggregation_complex_query_key_bucket_interval: 1 m segments with "
        "0.91, 0.89, 0.78, 0.85, 0.86, max 0.8 -> four matches, one per segment above",
        rule=avg_cpu(">", 0.8, group_by="[qk, sub_qk]", window="1m", resolve_after="5m"),
        events=[
            {"ts": f"{m}m", **COMPOUND, "sub_qk": "sub_qk_val1", "cpu_pct": v}
            for m, v in enumerate((0.91, 0.89, 0.78, 0.85, 0.86))
        ],
        # the 0.78 minute clears the condition, and it holds again a minute later: the
        # episode is still resolving (resolve_after 5m), so it goes on without a page
        expect=[trigger({**COMPOUND, "sub_qk": "sub_qk_val1"}, 0, 0.91)],
        differs="a sliding window and one trigger per episode; EA2 checks each segment "
        "(docs: One page per episode)",
    ),
]
