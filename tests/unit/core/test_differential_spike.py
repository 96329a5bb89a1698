"""`spike` in the compiled core against the Python reference engine: identical alerts (with the
evidence's float values and rounded baselines), dead letters and counts, over generated traffic
whose rate changes from phase to phase so that spikes fire and clear."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.core.groups import assert_same_group_counts
from tests.unit.core.harness import assert_same
from tests.unit.core.scripts import MALFORMED, ORGS, Advance, Batch, Step, event
from tests.unit.helpers import base_rule

LATENESS = st.sampled_from([0, 5_000, 30_000])
# Mean gap between events of a phase (ms): from a burst to a trickle.
GAPS = [30, 100, 300, 1_000, 3_000, 8_000]


@st.composite
def phased_scripts(draw: st.DrawFn, max_events: int = 250) -> list[Step]:
    """Phases of steady traffic at changing rates, some dominated by one org (a spike of that
    group), with quiet gaps between them; late events, malformed records, random batch cuts
    and idle advances as in `scripts()`."""
    t = draw(st.integers(0, 3_000_000))
    steps: list[Step] = []
    batch: list[bytes] = []
    n = 0
    while n < max_events:
        size = draw(st.integers(1, 60))
        gap = draw(st.sampled_from(GAPS))
        hot = draw(st.sampled_from([None, None, *ORGS]))
        for _ in range(size):
            t += draw(st.integers(0, 2 * gap))
            jitter = draw(st.sampled_from([0] * 12 + [-1_000, -6_000, -40_000]))
            if draw(st.integers(0, 40)) == 0:
                batch.append(draw(st.sampled_from(MALFORMED)))
            else:
                e = draw(event(n, max(0, t + jitter)))
                if hot is not None and draw(st.integers(0, 3)):
                    e["org_id"] = hot
                batch.append(orjson.dumps(e))
            n += 1
            cut = draw(st.integers(0, 12))
            if cut == 0:
                steps.append(Batch(batch))
                batch = []
            elif cut == 1:
                steps.append(Batch(batch))
                batch = []
                t += draw(st.integers(0, 20_000))
                steps.append(Advance(t))
        if draw(st.integers(0, 5)) == 0:
            break
        t += draw(st.sampled_from([0, 0, 5_000, 30_000]))
    steps.append(Batch(batch))
    return steps


SPIKE_RULES = [
    # the defaults: mean of 4 windows, upward, count; conditions resolve 5 minutes after
    base_rule({"type": "spike", "window": "5s", "bucket": "1s", "factor": 2}, id="sp_default"),
    base_rule(
        {
            "type": "spike",
            "window": "10s",
            "bucket": "2s",
            "factor": 3,
            "baseline_windows": 3,
            "baseline": "median",
            "direction": "both",
            "min_count": 3,
        },
        id="sp_median_both",
        group_by=["org_id", "event_type"],
        resolve_after="6s",
        **{"for": "4s"},
    ),
    base_rule(
        {
            "type": "spike",
            "window": "4s",
            "bucket": "4s",
            "factor": 2.5,
            "baseline_windows": 2,
            "direction": "down",
        },
        id="sp_down",
        resolve_after="0s",
        throttle="20s",
    ),
    base_rule(
        {
            "type": "spike",
            "window": "3s",
            "seasonality": "12s",
            "factor": 2,
            "baseline_windows": 2,
            "direction": "both",
        },
        id="sp_seasonal",
        resolve_after="0s",
    ),
    # a sum of mixed integers and floats (negative ones too)
    base_rule(
        {
            "type": "spike",
            "window": "6s",
            "bucket": "2s",
            "aggregate": "sum",
            "field": "tokens",
            "factor": 1.5,
            "baseline_windows": 3,
            "direction": "both",
        },
        id="sp_sum",
        resolve_after="3s",
        evidence={"top": ["ip", "loose"]},
    ),
    base_rule(
        {
            "type": "spike",
            "window": "2s",
            "seasonality": "6s",
            "aggregate": "sum",
            "field": "attrs.n",
            "factor": 1.7,
            "baseline_windows": 3,
            "baseline": "median",
        },
        id="sp_seasonal_sum",
        group_by=["attrs.plan"],
        resolve_after="2s",
        throttle="10s",
    ),
    base_rule(
        {"type": "spike", "window": "2s", "bucket": "1s", "factor": 2, "baseline_windows": 2},
        id="sp_capped",
        where={"event_type": {"ne": "login"}},
        group_by=["account_id"],
        resolve_after="0s",
        max_groups=2,
    ),
]


@settings(max_examples=200, deadline=None)
@given(phased_scripts(), LATENESS)
def test_spike(script: list[Step], lateness: int) -> None:
    assert_same(SPIKE_RULES, script, lateness)


@settings(max_examples=60, deadline=None)
@given(phased_scripts(), LATENESS)
def test_spike_group_counts(script: list[Step], lateness: int) -> None:
    assert_same_group_counts(SPIKE_RULES, script, lateness)
