"""What a step of a partition produces: the records its transaction writes, and the counts
the worker's metrics take from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from signalfire.engine.alert import Alert
from signalfire.rulecounts import RuleCounts
from streams.records import DeadLetter

Partition = tuple[str, int]


@dataclass(slots=True)
class Outputs:
    pages: list[tuple[bytes, bytes]] = field(default_factory=list)
    shadow_pages: list[tuple[bytes, bytes]] = field(default_factory=list)  # never to on-call
    dead: list[DeadLetter] = field(default_factory=list)
    # (topic, partition, value): batches for the repartition topics
    forwards: list[tuple[str, int, bytes]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    # Triggers a snooze holds back from on-call: (key, value, snooze key), and their alerts.
    snoozed: list[tuple[bytes, bytes, str]] = field(default_factory=list)
    snoozed_alerts: list[Alert] = field(default_factory=list)
    consumed: int = 0
    decoded: int = 0
    late: int = 0
    # per rule: what it did in this step
    rule_deltas: dict[str, RuleCounts] = field(default_factory=dict)

    def writes(self) -> bool:
        """Whether its transaction has records to write (pages, dead letters, forwards)."""
        return bool(self.pages or self.shadow_pages or self.snoozed or self.dead or self.forwards)

    def count(self, rule_id: str, delta: RuleCounts) -> None:
        before = self.rule_deltas.get(rule_id)
        self.rule_deltas[rule_id] = delta if before is None else before + delta

    def drop_sent(self) -> None:
        """A replay's outputs that Kafka holds already: forwards, dead letters and held pages
        (pages and shadow pages are dropped by the page log as they are made)."""
        self.forwards.clear()
        self.dead.clear()
        self.snoozed.clear()
        self.snoozed_alerts.clear()

    def extend(self, other: Outputs) -> None:
        self.pages += other.pages
        self.shadow_pages += other.shadow_pages
        self.dead += other.dead
        self.forwards += other.forwards
        self.alerts += other.alerts
        self.snoozed += other.snoozed
        self.snoozed_alerts += other.snoozed_alerts
        self.consumed += other.consumed
        self.decoded += other.decoded
        self.late += other.late
        for rule_id, delta in other.rule_deltas.items():
            self.count(rule_id, delta)
