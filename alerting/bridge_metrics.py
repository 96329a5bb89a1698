"""The bridge's Prometheus metrics: one typed bundle on a passed registry, labelled by sink.

Sink names come from the bridge config (operator-chosen, a handful), never from messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alerting.metrics import Factory
from alerting.pager import INCIDENT_STATUSES

FAILURE_OUTCOMES = ("rejected", "exhausted")  # refused for good / retries used up
# The page store's writes: a new message, one stored before (a replay), a try that failed.
STORE_OUTCOMES = ("stored", "duplicate", "unavailable")
INCIDENT_PAGE_BUCKETS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 50.0, 100.0)
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BridgeMetrics:
    consumed: Counter
    invalid: Counter
    deliveries: Counter
    retries: Counter
    failures: Counter
    dead_lettered: Counter
    delivery_seconds: Histogram
    pending: Gauge
    resends: Counter
    tracked: Gauge
    up: Gauge
    store_writes: Counter
    store_purged: Counter
    incident_pages: Counter
    incidents_open: Gauge
    incident_size: Histogram
    incidents_dropped: Counter

    @classmethod
    def create(
        cls, registry: CollectorRegistry, sinks: tuple[str, ...], prefix: str = "signalfire"
    ) -> BridgeMetrics:
        f = Factory(registry, prefix)
        sink = ("sink",)
        m = cls(
            consumed=f.counter("bridge_consumed_total", "Pager messages read."),
            invalid=f.counter("bridge_invalid_total", "Pager records that are not a message."),
            deliveries=f.counter("bridge_deliveries_total", "Messages delivered to a sink.", sink),
            retries=f.counter("bridge_retries_total", "Delivery retries.", sink),
            failures=f.counter(
                "bridge_failures_total", "Messages given up on.", ("sink", "outcome")
            ),
            dead_lettered=f.counter(
                "bridge_dead_lettered_total", "Records written to the pager dead-letter topic."
            ),
            delivery_seconds=f.histogram(
                "bridge_delivery_seconds",
                "Pager record read to delivered, retries included.",
                DELIVERY_BUCKETS,
                sink,
            ),
            pending=f.gauge("bridge_pending", "Messages queued or in flight.", sink),
            resends=f.counter("bridge_resends_total", "Re-sends of tracked alerts.", sink),
            tracked=f.gauge("bridge_tracked_alerts", "Alerts kept for re-sending.", sink),
            up=f.gauge("bridge_up", "1 while the bridge runs."),
            store_writes=f.counter(
                "bridge_store_writes_total", "Page store write attempts.", ("sink", "outcome")
            ),
            store_purged=f.counter(
                "bridge_store_purged_total", "Pages the store's retention deleted.", sink
            ),
            incident_pages=f.counter(
                "bridge_incident_pages_total",
                "Pager messages by what they did to their incident (opened one, joined, were "
                "absorbed by a firing parent, resolved it, ...).",
                ("outcome",),
            ),
            incidents_open=f.gauge("bridge_incidents_open", "Incidents with a page firing."),
            incident_size=f.histogram(
                "bridge_incident_size_pages",
                "Pages (rule groups) in an incident when it resolves.",
                INCIDENT_PAGE_BUCKETS,
            ),
            incidents_dropped=f.counter(
                "bridge_incidents_dropped_total", "Open incidents dropped at the max_open cap."
            ),
        )
        for status in INCIDENT_STATUSES:
            m.incident_pages.labels(outcome=status)
        for name in sinks:  # every series exists from the start, so rates start at zero
            m.deliveries.labels(sink=name)
            m.retries.labels(sink=name)
            m.resends.labels(sink=name)
            m.pending.labels(sink=name)
            m.tracked.labels(sink=name)
            m.delivery_seconds.labels(sink=name)
            for outcome in FAILURE_OUTCOMES:
                m.failures.labels(sink=name, outcome=outcome)
        return m

    def store_sink(self, sink: str) -> None:
        """Create a store sink's series, so they exist (at zero) before its first write."""
        for outcome in STORE_OUTCOMES:
            self.store_writes.labels(sink=sink, outcome=outcome)
        self.store_purged.labels(sink=sink)

    def failed(self, sink: str, outcome: str) -> None:
        if outcome not in FAILURE_OUTCOMES:
            raise ValueError(f"bridge failure outcome {outcome!r} not in {FAILURE_OUTCOMES}")
        self.failures.labels(sink=sink, outcome=outcome).inc()
