"""The compiled core against the Python reference engine: identical alerts (with evidence),
dead letters and counts over generated scripts (random batch cuts, late and out-of-order events,
malformed records, idle advances), at several allowed latenesses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.core.harness import assert_same
from tests.unit.core.scripts import Step, scripts
from tests.unit.helpers import base_rule

LATENESS = st.sampled_from([0, 5_000, 30_000])

MATCH_RULES = [
    base_rule({"type": "match"}, id="m_status", where={"status": {"gte": 429}}),
    base_rule(
        {"type": "match"},
        id="m_throttled",
        where={"any": [{"flagged": True}, {"categories": {"contains": "csam"}}]},
        group_by=["org_id", "account_id"],
        throttle="30s",
        evidence={"top": ["ip", "attrs.plan"]},
    ),
    base_rule(
        {"type": "match"},
        id="m_resolving",
        where={"ip": {"cidr": ["10.0.0.0/8", "2001:db8::/32"]}, "event_type": {"ne": "login"}},
        group_by=["ip"],
        throttle="10s",
        resolve_after="20s",
    ),
    base_rule(
        {"type": "match"},
        id="m_loose",
        where={"loose": {"in": [1, "x", True]}, "not": {"tokens": {"lt": 10}}},
        group_by=["loose"],
        resolve_after="15s",
        evidence={"top": ["tokens", "loose"]},
    ),
]


@settings(max_examples=120, deadline=None)
@given(scripts(), LATENESS)
def test_match(script: list[Step], lateness: int) -> None:
    assert_same(MATCH_RULES, script, lateness)
