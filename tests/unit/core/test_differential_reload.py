"""Reloads of the rule set mid-stream, in the compiled core against the Python reference: rules
kept (with their state), dropped, changed (another definition under the same id) and renewed (a
new version), in any order, between batches, advances and restarts, over the rules of every
detector type. The alerts, the pages they become on the pager topic, dead letters and counts
must stay identical, and so must the groups each rule holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.core.flows import flows
from tests.unit.core.groups import assert_same_group_counts
from tests.unit.core.harness import assert_same
from tests.unit.core.scripts import Step, scripts, with_reloads
from tests.unit.core.test_differential import MATCH_RULES
from tests.unit.core.test_differential_absence import ABSENCE_RULES
from tests.unit.core.test_differential_new_value import NEW_VALUE_RULES
from tests.unit.core.test_differential_sequence import SEQUENCE_RULES
from tests.unit.core.test_differential_spike import SPIKE_RULES, phased_scripts
from tests.unit.core.test_differential_windowed import (
    AGGREGATE_RULES,
    COUNT_RULES,
    DISTINCT_RULES,
    RATIO_RULES,
)

LATENESS = st.sampled_from([0, 5_000, 30_000])

# Two of each detector type: a changed rule can become a rule of any other type.
EVERY_TYPE = [
    *MATCH_RULES[:2],
    *COUNT_RULES[:2],
    *AGGREGATE_RULES[:2],
    *DISTINCT_RULES[:2],
    *RATIO_RULES[:2],
    *SPIKE_RULES[:2],
    *NEW_VALUE_RULES[:2],
    *ABSENCE_RULES[:2],
    *SEQUENCE_RULES[:2],
]


def test_every_detector_type_is_reloaded() -> None:
    types = {r.detect.type for r in EVERY_TYPE}
    assert types == {
        "match",
        "threshold",
        "distinct",
        "ratio",
        "spike",
        "new_value",
        "absence",
        "sequence",
    }


@settings(max_examples=150, deadline=None)
@given(with_reloads(scripts(), len(EVERY_TYPE)), LATENESS)
def test_reloads_of_every_detector_type(script: list[Step], lateness: int) -> None:
    assert_same(EVERY_TYPE, script, lateness, pages=True)


@settings(max_examples=80, deadline=None)
@given(with_reloads(flows(), len(SEQUENCE_RULES)), LATENESS)
def test_reloads_of_sequences(script: list[Step], lateness: int) -> None:
    assert_same(SEQUENCE_RULES, script, lateness, pages=True)


@settings(max_examples=80, deadline=None)
@given(with_reloads(phased_scripts(), len(SPIKE_RULES)), LATENESS)
def test_reloads_of_spikes(script: list[Step], lateness: int) -> None:
    assert_same(SPIKE_RULES, script, lateness, pages=True)


@settings(max_examples=60, deadline=None)
@given(with_reloads(scripts(), len(EVERY_TYPE)), LATENESS)
def test_reloads_keep_the_same_groups(script: list[Step], lateness: int) -> None:
    assert_same_group_counts(EVERY_TYPE, script, lateness)
