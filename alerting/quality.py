"""How well each rule pages, as its investigators judged it: a pure function of triage facts.

    table = quality_table(store.triage_facts(since_ms, until_ms))

The console exports this table as Prometheus metrics (alerting.quality_metrics) and
`signalfire rules report` prints it; both read the same rows, so they agree. Definitions
(docs/operations.md, "Detection quality"):

- An episode counts in the range its *start* (event time of its first message) falls in.
- A verdict count is by *standing* verdict: the latest verdict of each episode.
- precision = confirmed_abuse / (confirmed_abuse + false_positive + benign). A `duplicate`
  says nothing about the rule's judgement, so it is left out; None without any such verdict.
- Time to acknowledge (TTA): the acknowledgement's time minus the episode's start; time to
  verdict (TTV): the *first* verdict's time minus the start (a later change of mind does not
  make the page look slower). Both include detection and delivery, since the start is event
  time; a negative difference (clock skew) counts as 0.
- p50/p90 are nearest-rank percentiles: the value at rank ceil(p * n) of the n sorted
  durations; None when n is 0. Every value is one that was observed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alerting.store.model import TriageFact, VerdictName

# The store's verdicts (alerting.store.migrations.VERDICTS), typed.
VERDICT_NAMES: tuple[VerdictName, ...] = (
    "confirmed_abuse",
    "false_positive",
    "benign",
    "duplicate",
)
QUANTILES = (0.5, 0.9)
ALL_SEVERITIES = "all"  # the severity of a rule's total row


def nearest_rank(sorted_values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q` quantile (0 < q <= 1) of values sorted ascending."""
    if not 0 < q <= 1:
        raise ValueError("a quantile is in (0, 1]")
    if not sorted_values:
        return None
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


@dataclass(frozen=True, slots=True)
class Timing:
    """Durations in seconds: how many were measured, and their p50 and p90."""

    count: int
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Timing:
        values = sorted(seconds)
        return cls(len(values), nearest_rank(values, 0.5), nearest_rank(values, 0.9))

    def quantiles(self) -> dict[float, float | None]:
        return {0.5: self.p50, 0.9: self.p90}


@dataclass(frozen=True, slots=True)
class Cell:
    """The episodes of one rule at one severity (or all of them: severity `all`)."""

    severity: str
    pages: int
    acknowledged: int
    verdicts: dict[VerdictName, int]  # standing verdicts, every kind present (0 when none)
    unreviewed: int  # episodes without any verdict
    precision: float | None
    time_to_ack: Timing
    time_to_verdict: Timing

    @classmethod
    def of(cls, severity: str, facts: Sequence[TriageFact]) -> Cell:
        verdicts: dict[VerdictName, int] = dict.fromkeys(VERDICT_NAMES, 0)
        for f in facts:
            if f.verdict is not None:
                verdicts[f.verdict] += 1
        acks = [_since_start(f, f.acknowledged_at) for f in facts if f.acknowledged_at is not None]
        firsts = [
            _since_start(f, f.first_verdict_at) for f in facts if f.first_verdict_at is not None
        ]
        judged = verdicts["confirmed_abuse"] + verdicts["false_positive"] + verdicts["benign"]
        return cls(
            severity=severity,
            pages=len(facts),
            acknowledged=sum(f.acknowledged_at is not None for f in facts),
            verdicts=verdicts,
            unreviewed=sum(f.verdict is None for f in facts),
            precision=verdicts["confirmed_abuse"] / judged if judged else None,
            time_to_ack=Timing.of(acks),
            time_to_verdict=Timing.of(firsts),
        )


@dataclass(frozen=True, slots=True)
class RuleQuality:
    """One rule: its total over every severity, and a cell per severity it paged at.

    A rule pages at one severity unless its file changed it within the range; `total` is the
    rule's row then (its precision is the one exported per rule)."""

    rule: str
    total: Cell
    by_severity: tuple[Cell, ...]  # ordered by severity name


def quality_table(facts: Iterable[TriageFact]) -> tuple[RuleQuality, ...]:
    """Per rule (ordered by id): its cells. Rules without an episode in the facts are absent."""
    by_rule: dict[str, dict[str, list[TriageFact]]] = {}
    for f in facts:
        by_rule.setdefault(f.rule_id, {}).setdefault(f.severity, []).append(f)
    table = []
    for rule, severities in sorted(by_rule.items()):
        every = [f for group in severities.values() for f in group]
        cells = tuple(Cell.of(sev, group) for sev, group in sorted(severities.items()))
        table.append(RuleQuality(rule, Cell.of(ALL_SEVERITIES, every), cells))
    return tuple(table)


def _since_start(fact: TriageFact, at: int) -> float:
    return max(0, at - fact.started_at) / 1000
