"""`new_value` in the compiled core against the Python reference engine: identical alerts (the
new value and the known ones keep their JSON types), dead letters and counts over generated
scripts, with lookbacks short enough to expire and with and without warmup."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.core.groups import assert_same_group_counts
from tests.unit.core.harness import assert_same
from tests.unit.core.scripts import Batch, Step, scripts
from tests.unit.helpers import base_rule

LATENESS = st.sampled_from([0, 5_000, 30_000])

NEW_VALUE_RULES = [
    # every JSON type, and numbers equal across types (1 and 1.0 are one value)
    base_rule(
        {"type": "new_value", "field": "loose", "lookback": "20s", "warmup": 0},
        id="nv_loose",
        throttle="0s",
    ),
    base_rule(
        {"type": "new_value", "field": "attrs.plan", "lookback": "30s", "warmup": "10s"},
        id="nv_plan",
        group_by=["org_id", "account_id"],
        throttle="0s",
        resolve_after="15s",
        evidence={"top": ["ip", "loose"]},
    ),
    # every event a new value of one group: the known values are pruned of expired ones
    base_rule(
        {"type": "new_value", "field": "event_id", "lookback": "2m", "warmup": 0},
        id="nv_pruned",
        group_by=[],
        throttle="0s",
    ),
    base_rule(
        {"type": "new_value", "field": "prompt_tokens", "lookback": "40s", "warmup": 0},
        id="nv_tokens",
        throttle="10s",
    ),
    base_rule(
        {"type": "new_value", "field": "tokens", "lookback": "8s", "warmup": "3s"},
        id="nv_mixed",
        group_by=["loose"],
        throttle="5s",
        resolve_after="4s",
    ),
    base_rule(
        {"type": "new_value", "field": "account_id", "lookback": "1m", "warmup": 0},
        id="nv_capped",
        where={"event_type": {"ne": "login"}},
        group_by=["ip"],
        throttle="0s",
        max_groups=2,
    ),
    # the defaults: a week's lookback (nothing expires), an hour's warmup, a 10-minute throttle
    base_rule({"type": "new_value", "field": "ip"}, id="nv_default", group_by=["account_id"]),
]


@settings(max_examples=150, deadline=None)
@given(scripts(), LATENESS)
def test_new_value(script: list[Step], lateness: int) -> None:
    assert_same(NEW_VALUE_RULES, script, lateness)


@settings(max_examples=60, deadline=None)
@given(scripts(), LATENESS)
def test_new_value_group_counts(script: list[Step], lateness: int) -> None:
    assert_same_group_counts(NEW_VALUE_RULES, script, lateness)


def test_whole_floats_beyond_int64_stay_floats() -> None:
    # Whole floats in [-2^63, 2^63) are integer keys and values; beyond, they stay floats.
    big = [2.0**63, -(2.0**63), 1e19, -1e19, 2.0**62, 9007199254740993.0]
    events = [
        {"event_id": f"e{n}", "org_id": "o1", "ts": 1000 * n, "loose": v, "tokens": v}
        for n, v in enumerate(big)
    ]
    rule = base_rule(
        {"type": "new_value", "field": "loose", "lookback": "1m", "warmup": 0},
        id="nv_big",
        group_by=["tokens"],
        throttle="0s",
    )
    for lateness in (0, 30_000):
        assert_same([rule], [Batch([orjson.dumps(e) for e in events])], lateness)
