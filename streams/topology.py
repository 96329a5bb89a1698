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

from signalfire.rules.model import AllOf, AnyOf, Cond, Filter, Not, Rule

PARTITION_KEY = ("org_id",)
DIRECT = "direct"
# Forwarded whatever the rule says: event time and ids for the evidence, and the contract's
# required fields, so that a forwarded event is an event the family's engine reads as any other.
ALWAYS_READ = ("ts", "event_id", "org_id")


def _filter_fields(node: Filter | None, into: set[str]) -> None:
    if isinstance(node, Cond):
        into.add(node.path[0])
    elif isinstance(node, AllOf | AnyOf):
        for item in node.items:
            _filter_fields(item, into)
    elif isinstance(node, Not):
        _filter_fields(node.item, into)


def fields_read(rule: Rule) -> frozenset[str]:
    """Top-level event fields the rule's engine can look at: its filters, group key, value,
    evidence and the fields every detector reads. Templates name only group fields."""
    d = rule.detect
    found = set(ALWAYS_READ)
    _filter_fields(rule.where, found)
    _filter_fields(d.numerator, found)
    for step in d.steps:
        _filter_fields(step.where, found)
    found.update(path[0] for path in rule.group_by)
    found.update(path[0] for path in rule.counted_fields)
    if d.field:
        found.add(d.field[0])
    return frozenset(found)


def family_of(rule: Rule) -> str:
    if PARTITION_KEY in rule.group_by:
        return DIRECT
    return "-".join("_".join(p) for p in rule.group_by) or "all"


@dataclass(frozen=True)
class Family:
    name: str
    rules: tuple[Rule, ...]
    # What is forwarded of each event: only what the family's rules read (smaller records to
    # encode, send and decode again; the same answers).
    fields: tuple[str, ...]


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
        Family(name, tuple(rs), tuple(sorted(frozenset().union(*(fields_read(r) for r in rs)))))
        for name, rs in sorted(grouped.items())
        if name != DIRECT
    )
    return Topology(tuple(grouped.get(DIRECT, ())), families)
