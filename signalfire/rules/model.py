"""Typed, validated rule objects: what the engine compiles. Built only by `schema.build_rule`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from signalfire.entities import NO_ENTITIES, RuleEntities

Scalar = str | int | float | bool

CONDITION_TYPES = frozenset({"threshold", "distinct", "ratio", "spike", "absence"})
OCCURRENCE_TYPES = frozenset({"match", "new_value", "sequence"})
DETECTOR_TYPES = CONDITION_TYPES | OCCURRENCE_TYPES
SEVERITIES = ("critical", "error", "warning", "info")
# live: pages go to the pager topic (on-call); shadow: to the shadow topic only, for trying a
# rule on live traffic before it may page anyone.
MODES = ("live", "shadow")
LIVE, SHADOW = MODES
OPS = (">", ">=", "<", "<=")


@dataclass(frozen=True, slots=True)
class Cond:
    """One operator applied to one field: `path op arg`."""

    path: tuple[str, ...]
    op: str
    arg: Any


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter


Filter = Cond | AllOf | AnyOf | Not
MATCH_ALL: Filter = AllOf(())


@dataclass(frozen=True, slots=True)
class Step:
    where: Filter
    count: int = 1
    absent: bool = False


@dataclass(frozen=True, slots=True)
class Detect:
    type: str
    window_ms: int = 0
    bucket_ms: int = 0
    aggregate: Literal["count", "sum", "avg", "min", "max"] = "count"
    field: tuple[str, ...] | None = None
    op: str = ">"
    threshold: float = 0.0
    numerator: Filter | None = None
    min_count: int = 1
    factor: float = 0.0
    baseline_windows: int = 0
    direction: Literal["up", "down", "both"] = "up"
    baseline: Literal["mean", "median"] = "mean"
    seasonality_ms: int = 0
    lookback_ms: int = 0
    warmup_ms: int = 0
    steps: tuple[Step, ...] = ()
    within_ms: int = 0


@dataclass(frozen=True, slots=True)
class TestCase:
    name: str
    line: int
    events: tuple[dict[str, Any], ...]
    expect: tuple[dict[str, Any], ...]
    until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    description: str
    severity: str
    owner: str
    labels: dict[str, str]
    annotations: dict[str, str]
    where: Filter
    group_by: tuple[tuple[str, ...], ...]
    detect: Detect
    for_ms: int
    resolve_after_ms: int | None
    throttle_ms: int
    evidence_top: tuple[tuple[str, ...], ...]
    max_groups: int | None
    version: str
    path: str
    line: int
    tests: tuple[TestCase, ...] = field(default=(), compare=False)
    mode: str = LIVE
    # Who its pages are about (signalfire.entities), from the rule set's entity model.
    entities: RuleEntities = NO_ENTITIES

    @property
    def shadow(self) -> bool:
        return self.mode == SHADOW

    @property
    def is_condition(self) -> bool:
        return self.detect.type in CONDITION_TYPES

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(".".join(p) for p in self.group_by)

    @property
    def counted_fields(self) -> tuple[tuple[str, ...], ...]:
        """The fields whose values the detectors count per group: `evidence.top`, then the
        parent entities not among them (what a page's entities are taken from)."""
        return self.evidence_top + self.parent_counts

    @property
    def parent_counts(self) -> tuple[tuple[str, ...], ...]:
        """Parent entity fields counted for the page's entities alone, not shown as top values.
        A `distinct` rule's field is not among them: its evidence lists the field's values."""
        own = self.detect.field if self.detect.type == "distinct" else None
        paths = (tuple(name.split(".")) for name in self.entities.parents)
        return tuple(p for p in paths if p not in self.evidence_top and p != own)
