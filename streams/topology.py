"""Which rules run where: on the input partitions, or behind a repartition topic.

Input records are keyed (and so partitioned) by `org_id`. A rule grouped by fields that
include `org_id` sees all events of each of its groups on one partition and runs there
directly. Any other grouping (by `ip`, by `account_id`, ...) forms a family: its events are
forwarded to a repartition topic keyed by the group's values, so each group again lives on
exactly one partition, and N workers raise exactly the alerts that one worker raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signalfire.engine.detectors import spec_for
from signalfire.filters.compile import FusedSelector, compile_fused
from signalfire.rules.model import Rule

PARTITION_KEY = ("org_id",)
DIRECT = "direct"


def family_of(rule: Rule) -> str:
    if PARTITION_KEY in rule.group_by:
        return DIRECT
    return "-".join("_".join(p) for p in rule.group_by) or "all"


@dataclass(frozen=True)
class Family:
    name: str
    rules: tuple[Rule, ...]
    select: FusedSelector

    def route(self, events: Sequence[dict[str, object]]) -> list[tuple[int, object]]:
        """(index, group key) of each event that some rule of the family will look at."""
        chosen: dict[int, object] = {}
        for idxs, keys, _ in self.select(events):
            for i, key in zip(idxs, keys, strict=True):
                chosen.setdefault(i, key)
        return sorted(chosen.items())


@dataclass(frozen=True)
class Topology:
    direct: tuple[Rule, ...]
    families: tuple[Family, ...]

    def rules_for(self, family: str) -> tuple[Rule, ...]:
        if family == DIRECT:
            return self.direct
        for f in self.families:
            if f.name == family:
                return f.rules
        return ()


def build_topology(rules: Sequence[Rule]) -> Topology:
    grouped: dict[str, list[Rule]] = {}
    for rule in rules:
        grouped.setdefault(family_of(rule), []).append(rule)
    families = tuple(
        Family(name, tuple(rs), compile_fused([spec_for(r) for r in rs]))
        for name, rs in sorted(grouped.items())
        if name != DIRECT
    )
    return Topology(tuple(grouped.get(DIRECT, ())), families)
