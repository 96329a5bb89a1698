"""Incidents in the bridge: one correlator per pager partition it reads.

The worker keys every page by its root entity, so all pages of one root are in one partition,
in the order they were written: a partition's correlator sees everything its incidents need,
and its state is a function of the partition's records alone. So the state is never stored:
when the bridge starts, or takes a partition over from another bridge of its group, it reads
the partition from its start up to the group's committed offset through a fresh correlator
(`streams.bridge_restore`), and carries on from there; the pages after the commit point are
read again and decided again exactly as before. A restart therefore keeps every incident id.
"""

from __future__ import annotations

from alerting.bridge_config import IncidentSettings
from alerting.bridge_metrics import BridgeMetrics
from alerting.incidents import Correlator, Decision
from alerting.incidents.attach import with_incident
from alerting.pager import PagerMessage


class BridgeIncidents:
    def __init__(self, settings: IncidentSettings, metrics: BridgeMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.correlators: dict[int, Correlator] = {}
        # Per partition: the offset after the last record its correlator read.
        self.through: dict[int, int] = {}

    def attach(
        self, partition: int, offset: int, message: PagerMessage, *, replay: bool = False
    ) -> PagerMessage:
        """`message` (the record at `offset`) with the incident it is part of
        (`custom_details.incident`); counted in the metrics unless it is a replay of what an
        earlier run counted."""
        correlator = self.correlators.get(partition)
        if correlator is None:
            correlator = self.correlators[partition] = self._fresh()
        decision = correlator.decide(message)
        self.through[partition] = max(self.through.get(partition, 0), offset + 1)
        if not replay:
            self._count(decision)
        return with_incident(message, decision)

    def read_up_to(self, committed: dict[int, int]) -> None:
        """A replay has read every record before these offsets."""
        for partition, offset in committed.items():
            self.through[partition] = max(self.through.get(partition, 0), offset)
        self.metrics.incidents_open.set(self.open_count)

    def stale(self, committed: dict[int, int]) -> list[int]:
        """Of the partitions assigned now (with their committed offsets), those whose
        correlator has not read every record before the commit point (another bridge of the
        group read them since, or this one never held them): dropped, to be read again.
        Correlators of partitions no longer assigned are dropped too."""
        stale = sorted(p for p, offset in committed.items() if self.through.get(p, -1) < offset)
        for partition in (set(self.correlators) - set(committed)) | set(stale):
            self.forget(partition)
        return stale

    def forget(self, partition: int) -> None:
        self.correlators.pop(partition, None)
        self.through.pop(partition, None)
        self.metrics.incidents_open.set(self.open_count)

    @property
    def open_count(self) -> int:
        return sum(c.open_count for c in self.correlators.values())

    def _fresh(self) -> Correlator:
        return Correlator(self.settings.window_ms, self.settings.max_open)

    def _count(self, decision: Decision) -> None:
        m = self.metrics
        m.incident_pages.labels(outcome=decision.what).inc()
        if decision.what == "resolved":
            m.incident_size.observe(decision.pages)
        if decision.dropped is not None:
            m.incidents_dropped.inc()
        m.incidents_open.set(self.open_count)
