"""How well each rule pages, as its investigators judged it: a pure function of triage facts.

    table = quality_table(store.triage_facts(since_ms, until_ms))

The console exports this table as Prometheus metrics (alerting.quality_metrics) and
`signalfire rules report` prints it; both read the same rows, so they agree. Definitions
(docs/operations.md, "Detection quality"):

- An episode counts in the range its *start* (event time of its first message) falls in.
- A verdict count is by *standing* verdict: the latest verdict of each episode.
- precision = confirmed_abuse / (confirmed_abuse + false_positive + benign). A `duplicate`
  says nothing about the rule's judgement, so it is left out; None without any such verdict.
- Time to acknowledge (TTA): the acknowledgement's time minus the time the page reached the
  store (the bridge hands it to the pagers at the same moment); time to verdict (TTV): the
  *first* verdict's time minus that time (a later change of mind does not make the page look
  slower). All three are wall times; a negative difference (clock skew) counts as 0.
- Shadow rules' pages are not in the table: they never reached anyone. `shadow_table`
  projects them instead: pages per day, and a precision borrowed from the judged pages they
  overlap (same entity, spans that meet): confirmed abuse if any overlapped page was confirmed,
  else false positive if any was, else benign.
- p50/p90 are nearest-rank percentiles: the value at rank ceil(p * n) of the n sorted
  durations; None when n is 0. Every value is one that was observed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alerting.store.model import EntityEpisode, TriageFact, VerdictName

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
        if f.held != "shadow":
            by_rule.setdefault(f.rule_id, {}).setdefault(f.severity, []).append(f)
    table = []
    for rule, severities in sorted(by_rule.items()):
        every = [f for group in severities.values() for f in group]
        cells = tuple(Cell.of(sev, group) for sev, group in sorted(severities.items()))
        table.append(RuleQuality(rule, Cell.of(ALL_SEVERITIES, every), cells))
    return tuple(table)


def _since_start(fact: TriageFact, at: int) -> float:
    start = fact.paged_at if fact.paged_at is not None else fact.started_at
    return max(0, at - start) / 1000


@dataclass(frozen=True, slots=True)
class ShadowProjection:
    """What a shadow rule would have done to on-call in the range, had it been live."""

    rule: str
    pages: int  # episodes started in the range
    pages_per_day: float
    overlapped: int  # of those, how many overlap a judged page on a shared entity
    verdicts: dict[VerdictName, int]  # the verdicts borrowed (no duplicates: they never lend)
    projected_precision: float | None  # None: no overlap with a judged page


def shadow_table(
    shadow: Iterable[EntityEpisode],
    judged: Iterable[EntityEpisode],
    since_ms: int,
    until_ms: int,
) -> tuple[ShadowProjection, ...]:
    """Per shadow rule (ordered by id): its projection over [since_ms, until_ms)."""
    lenders = [j for j in judged if j.verdict is not None and j.verdict != "duplicate"]
    by_entity: dict[tuple[str, str], list[EntityEpisode]] = {}
    for j in lenders:
        for entity in j.entities:
            by_entity.setdefault(entity, []).append(j)
    by_rule: dict[str, list[EntityEpisode]] = {}
    for s in shadow:
        if since_ms <= s.started_at < until_ms:
            by_rule.setdefault(s.rule_id, []).append(s)
    days = max(until_ms - since_ms, 1) / 86_400_000
    table = []
    for rule, episodes in sorted(by_rule.items()):
        verdicts: dict[VerdictName, int] = dict.fromkeys(VERDICT_NAMES, 0)
        overlapped = 0
        for s in episodes:
            borrowed = _borrowed(s, by_entity)
            if borrowed is not None:
                overlapped += 1
                verdicts[borrowed] += 1
        table.append(
            ShadowProjection(
                rule=rule,
                pages=len(episodes),
                pages_per_day=len(episodes) / days,
                overlapped=overlapped,
                verdicts=verdicts,
                projected_precision=verdicts["confirmed_abuse"] / overlapped
                if overlapped
                else None,
            )
        )
    return tuple(table)


def _borrowed(
    s: EntityEpisode, by_entity: dict[tuple[str, str], list[EntityEpisode]]
) -> VerdictName | None:
    found = {
        j.verdict
        for entity in s.entities
        for j in by_entity.get(entity, ())
        if j.started_at <= s.ended_at and j.ended_at >= s.started_at
    }
    for verdict in ("confirmed_abuse", "false_positive", "benign"):
        if verdict in found:
            return verdict
    return None
