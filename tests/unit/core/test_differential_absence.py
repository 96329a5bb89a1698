"""The compiled `absence` detector against the Python reference: silences fired by the watermark
or settled by a later event of the group, their resolves (with `for`, `resolve_after` and
`throttle`), the group cap, over generated scripts at several allowed latenesses."""

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

ABSENCE_RULES = [
    base_rule({"type": "absence", "window": "10s"}, id="a_org", resolve_after="0s"),
    base_rule(
        {"type": "absence", "window": "30s"},
        id="a_requests",
        where={"event_type": "request"},
        group_by=["org_id", "account_id"],
        resolve_after="20s",
        evidence={"top": ["ip", "status"]},
    ),
    base_rule(
        {"type": "absence", "window": "5s"},
        id="a_pending",
        group_by=["account_id"],
        throttle="30s",
        max_groups=3,
        resolve_after="3s",
        **{"for": "7s"},
    ),
    base_rule(
        {"type": "absence", "window": "2m"},
        id="a_long",
        where={"flagged": True},
        group_by=["ip"],
        max_groups=2,
        resolve_after="1m",
        **{"for": "15s"},
    ),
    base_rule(
        {"type": "absence", "window": "20s"},
        id="a_loose",
        group_by=["loose"],
        max_groups=1,
        throttle="1m",
        resolve_after="0s",
        evidence={"top": ["tokens"]},
    ),
    rule((RULES_DIR / "source_silent.yaml").read_text()),
]


@settings(max_examples=150, deadline=None)
@given(scripts(), LATENESS)
def test_absence(script: list[Step], lateness: int) -> None:
    assert_same(ABSENCE_RULES, script, lateness)


@settings(max_examples=100, deadline=None)
@given(scripts(max_events=80, spread_ms=30_000), LATENESS)
def test_absence_sparse(script: list[Step], lateness: int) -> None:
    """Gaps of the order of the windows: many silences, and events that end a gap past its
    deadline before the watermark gets there."""
    assert_same(ABSENCE_RULES, script, lateness)


@settings(max_examples=100, deadline=None)
@given(flows(spread_ms=8_000, grain_ms=1_000), LATENESS)
def test_absence_whole_seconds(script: list[Step], lateness: int) -> None:
    """Events exactly at a deadline (last + window): the silence happened first."""
    assert_same(ABSENCE_RULES, script, lateness)


@settings(max_examples=60, deadline=None)
@given(scripts(), LATENESS)
def test_absence_group_counts(script: list[Step], lateness: int) -> None:
    assert_same_group_counts(ABSENCE_RULES, script, lateness)
