"""The rule-quality table from triage facts: counts by standing verdict, precision without
duplicates, nearest-rank p50/p90 of time to acknowledge and to first verdict."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerting.quality import VERDICT_NAMES, Cell, Timing, nearest_rank, quality_table
from alerting.store.migrations import VERDICTS
from alerting.store.model import TriageFact, VerdictName

T0 = 1_795_420_800_000
S = 1000


def fact(
    page_id: int = 1,
    *,
    rule: str = "r",
    severity: str = "critical",
    ack: int | None = None,
    first: int | None = None,
    verdict: VerdictName | None = None,
) -> TriageFact:
    """An episode started at T0; `ack` and `first` are seconds after it."""
    return TriageFact(
        page_id=page_id,
        rule_id=rule,
        severity=severity,
        started_at=T0,
        acknowledged_at=None if ack is None else T0 + ack * S,
        first_verdict_at=None if first is None else T0 + first * S,
        verdict=verdict,
    )


def test_the_typed_verdicts_are_the_stores() -> None:
    assert VERDICT_NAMES == VERDICTS


@pytest.mark.parametrize(
    ("values", "p50", "p90"),
    [
        ([], None, None),
        ([7.0], 7.0, 7.0),
        ([1.0, 2.0], 1.0, 2.0),  # rank ceil(0.5 * 2) = 1, ceil(0.9 * 2) = 2
        ([1.0, 2.0, 3.0], 2.0, 3.0),
        ([float(v) for v in range(1, 11)], 5.0, 9.0),  # ceil(5) = 5, ceil(9) = 9: no rounding up
        ([float(v) for v in range(1, 12)], 6.0, 10.0),  # ceil(5.5) = 6, ceil(9.9) = 10
        ([5.0, 5.0, 5.0, 100.0], 5.0, 100.0),  # ties: the value shared by the ranks
    ],
)
def test_nearest_rank_percentiles(values: list[float], p50: float | None, p90: float | None):
    assert (nearest_rank(values, 0.5), nearest_rank(values, 0.9)) == (p50, p90)
    timing = Timing.of(reversed(values))  # any order in
    assert (timing.count, timing.p50, timing.p90) == (len(values), p50, p90)


@given(st.lists(st.floats(0, 1e6), min_size=1), st.sampled_from([0.5, 0.9, 1.0]))
def test_nearest_rank_is_an_observed_value_with_enough_below(values: list[float], q: float):
    ordered = sorted(values)
    got = nearest_rank(ordered, q)
    assert got in values
    # at least q of the values are <= it, and fewer than q are strictly below it
    assert sum(v <= got for v in values) >= q * len(values)
    assert sum(v < got for v in values) < math.ceil(q * len(values))


def test_a_quantile_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="quantile"):
        nearest_rank([1.0], 0)


@pytest.mark.parametrize(
    ("facts", "counts", "precision"),
    [
        ([], dict.fromkeys(VERDICTS, 0), None),
        ([fact()], dict.fromkeys(VERDICTS, 0), None),  # no verdict: precision unknown, not 0
        (
            [fact(1, verdict="confirmed_abuse"), fact(2, verdict="false_positive")],
            {"confirmed_abuse": 1, "false_positive": 1, "benign": 0, "duplicate": 0},
            0.5,
        ),
        (
            [
                fact(1, verdict="confirmed_abuse"),
                fact(2, verdict="benign"),
                fact(3, verdict="duplicate"),
            ],
            {"confirmed_abuse": 1, "false_positive": 0, "benign": 1, "duplicate": 1},
            0.5,  # the duplicate is neither right nor wrong
        ),
        (
            [fact(1, verdict="duplicate"), fact(2, verdict="duplicate")],
            {"confirmed_abuse": 0, "false_positive": 0, "benign": 0, "duplicate": 2},
            None,
        ),
        (
            [fact(i, verdict="confirmed_abuse") for i in range(3)] + [fact(9)],
            {"confirmed_abuse": 3, "false_positive": 0, "benign": 0, "duplicate": 0},
            1.0,  # an unreviewed page does not count against the rule
        ),
    ],
)
def test_verdict_counts_and_precision(
    facts: list[TriageFact], counts: dict[str, int], precision: float | None
) -> None:
    cell = Cell.of("critical", facts)
    assert cell.verdicts == counts
    assert cell.precision == precision
    assert cell.pages == len(facts)
    assert cell.unreviewed == sum(f.verdict is None for f in facts)


def test_times_run_from_the_start_to_the_ack_and_the_first_verdict() -> None:
    facts = [
        # a later verdict may change it: the first one's time counts
        fact(1, ack=60, first=120, verdict="false_positive"),
        fact(2, ack=300),
        fact(3, first=600, verdict="confirmed_abuse"),  # a verdict without an acknowledgement
        fact(4),
    ]
    cell = Cell.of("critical", facts)
    assert cell.acknowledged == 2
    assert cell.time_to_ack == Timing(2, 60.0, 300.0)
    assert cell.time_to_verdict == Timing(2, 120.0, 600.0)


def test_an_ack_before_the_event_time_counts_as_zero() -> None:
    skewed = TriageFact(1, "r", "info", T0, T0 - 5 * S, None, None)
    assert Cell.of("info", [skewed]).time_to_ack == Timing(1, 0.0, 0.0)


def test_the_table_has_a_row_per_rule_and_a_cell_per_severity() -> None:
    facts = [
        fact(1, rule="b", verdict="confirmed_abuse", first=10),
        fact(2, rule="a", severity="warning", verdict="false_positive", first=30),
        fact(3, rule="a", severity="critical", verdict="confirmed_abuse", first=20),
        fact(4, rule="a", severity="critical"),
    ]
    a, b = quality_table(facts)
    assert (a.rule, b.rule) == ("a", "b")
    assert [c.severity for c in a.by_severity] == ["critical", "warning"]
    critical, warning = a.by_severity
    assert (critical.pages, critical.precision, critical.unreviewed) == (2, 1.0, 1)
    assert (warning.pages, warning.precision) == (1, 0.0)
    # the rule's total: every severity together
    assert (a.total.severity, a.total.pages, a.total.precision) == ("all", 3, 0.5)
    assert a.total.time_to_verdict == Timing(2, 20.0, 30.0)
    assert [c.severity for c in b.by_severity] == ["critical"] and b.total.pages == 1


def test_no_facts_no_rows() -> None:
    assert quality_table([]) == ()
