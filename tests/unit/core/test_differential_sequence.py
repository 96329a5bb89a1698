"""The compiled `sequence` detector against the Python reference: steps with counts and a final
absent step, every partial that can still complete (with dominance and the per-group limit),
deadlines on the watermark, matches that do not share events, throttle and the group cap, over
generated flows at several allowed latenesses."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.core.flows import flows
from tests.unit.core.groups import assert_same_group_counts
from tests.unit.core.harness import assert_same
from tests.unit.core.scripts import Step, scripts
from tests.unit.helpers import base_rule, rule

LATENESS = st.sampled_from([0, 5_000, 30_000])
RULES_DIR = Path(__file__).parents[3] / "rules"


def seq(*steps: dict[str, object], within: str) -> dict[str, object]:
    return {"type": "sequence", "steps": list(steps), "within": within}


SEQUENCE_RULES = [
    base_rule(
        seq(
            {"where": {"event_type": "signup"}},
            {"where": {"event_type": "key_created"}},
            {"where": {"event_type": "request", "flagged": True}, "count": 3},
            within="20s",
        ),
        id="s_flagged",
        group_by=["account_id"],
        throttle="0s",
        evidence={"top": ["ip", "event_type"]},
    ),
    base_rule(
        seq(
            {"where": {"event_type": "payment_failed"}},
            {"where": {"event_type": "request"}, "count": 3},
            {"where": {"event_type": "payment_succeeded"}, "absent": True},
            within="15s",
        ),
        id="s_unpaid",
        throttle="0s",
    ),
    base_rule(
        seq(
            {"where": {"event_type": "signup"}},
            {"where": {"event_type": "request"}, "count": 2},
            within="4s",
        ),
        id="s_short",
        group_by=["org_id", "account_id"],
        throttle="5s",
        resolve_after="6s",
        max_groups=2,
        evidence={"top": ["ip"]},
    ),
    base_rule(
        seq(
            {"where": {"event_type": "signup"}},
            {"where": {"event_type": "key_created"}},
            {"where": {"event_type": "payment_succeeded"}, "absent": True},
            within="45s",
        ),
        id="s_long_absent",
        group_by=["org_id"],
        throttle="0s",
        max_groups=1,
        evidence={"top": ["account_id"]},
    ),
    # One event can fit several steps at once (every request is step 1, flagged ones step 2).
    base_rule(
        seq(
            {"where": {"event_type": "request"}},
            {"where": {"flagged": True}, "count": 2},
            {"where": {"event_type": "request"}, "count": 2},
            within="30s",
        ),
        id="s_overlap",
        group_by=["org_id"],
        throttle="0s",
    ),
    # More progress states than MAX_PARTIALS: new starts are dropped and counted.
    base_rule(
        seq(
            {"where": {"event_type": "request"}, "count": 40},
            {"where": {"event_type": "login"}},
            within="3m",
        ),
        id="s_many",
        group_by=["org_id"],
        throttle="0s",
    ),
    # Every request waits at once for its absent step: the waiters fill MAX_PARTIALS.
    base_rule(
        seq(
            {"where": {"event_type": "request"}},
            {"where": {"event_type": "login", "ip": "10.0.0.2"}, "absent": True},
            within="1m",
        ),
        id="s_waiters",
        group_by=["org_id"],
        throttle="0s",
        resolve_after="10s",
    ),
    rule((RULES_DIR / "signup_key_flagged_sequence.yaml").read_text()),
    rule((RULES_DIR / "unpaid_heavy_usage.yaml").read_text()),
]


@settings(max_examples=200, deadline=None)
@given(flows(), LATENESS)
def test_sequence_flows(script: list[Step], lateness: int) -> None:
    assert_same(SEQUENCE_RULES, script, lateness)


@settings(max_examples=60, deadline=None)
@given(flows(max_events=300, spread_ms=800), LATENESS)
def test_sequence_dense_flows(script: list[Step], lateness: int) -> None:
    """Many events per within: long partial lists, dominance and MAX_PARTIALS."""
    assert_same(SEQUENCE_RULES, script, lateness)


@settings(max_examples=120, deadline=None)
@given(flows(spread_ms=4_000, grain_ms=1_000), LATENESS)
def test_sequence_whole_seconds(script: list[Step], lateness: int) -> None:
    """Events exactly at deadlines: an absent-step event at first + within still cancels, a
    last step at first + within still completes."""
    assert_same(SEQUENCE_RULES, script, lateness)


@settings(max_examples=80, deadline=None)
@given(scripts(), LATENESS)
def test_sequence_random_types(script: list[Step], lateness: int) -> None:
    assert_same(SEQUENCE_RULES, script, lateness)


@settings(max_examples=60, deadline=None)
@given(flows(), LATENESS)
def test_sequence_group_counts(script: list[Step], lateness: int) -> None:
    assert_same_group_counts(SEQUENCE_RULES, script, lateness)
