"""Prometheus metrics: one typed bundle created against a registry you pass in.

`Metrics.create(registry)` registers every Signalfire metric on that registry (a fresh
`CollectorRegistry` per test, the process registry in the worker) and returns the bundle; call
sites use its attributes or the helpers below. The bridge has its own bundle built the same way
(`alerting.bridge_metrics`), and so has the console (`alerting.quality_metrics`). Labels are
only ever bounded values -- rule ids, severity, action, sink, outcome, reason, topic, partition,
verdict, quantile -- never org, account, key, ip or event ids: the factory refuses any label
name outside `ALLOWED_LABELS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from signalfire.engine.alert import Action
from signalfire.events import DeadLetterReason
from signalfire.rulecounts import RuleCounts

ALLOWED_LABELS = frozenset(
    {"rule", "severity", "action", "sink", "outcome", "reason", "topic", "partition", "verdict",
     "quantile"}
)  # fmt: skip
DLQ_REASONS = tuple(r.value for r in DeadLetterReason)
RELOAD_OUTCOMES = ("ok", "rejected")

BATCH_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                 0.5, 1.0)  # fmt: skip
PAGE_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0, 60.0)  # fmt: skip
CHECKPOINT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def render(registry: CollectorRegistry, names: Sequence[str] = ()) -> tuple[bytes, str]:
    """The `/metrics` response: exposition payload and its content type. With `names` (the
    `name[]` query parameters, as Prometheus' own exporters take them) only those series,
    which spares a frequent reader the rendering of every rule's series."""
    chosen = registry.restricted_registry(names) if names else registry
    return generate_latest(chosen), CONTENT_TYPE_LATEST


class Factory:
    """Builds metrics named `<prefix>_<name>` on one registry, refusing unbounded label names."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.registry = registry
        self.prefix = prefix

    def _check(self, name: str, labels: Sequence[str]) -> str:
        bad = sorted(set(labels) - ALLOWED_LABELS)
        if bad:
            raise ValueError(f"metric {name}: label(s) {', '.join(bad)} not in ALLOWED_LABELS")
        return f"{self.prefix}_{name}"

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(self._check(name, labels), doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(self._check(name, labels), doc, labels, registry=self.registry)

    def histogram(
        self, name: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        return Histogram(
            self._check(name, labels), doc, labels, registry=self.registry, buckets=buckets
        )


@dataclass(frozen=True, slots=True)
class Metrics:
    events_consumed: Counter
    events_decoded: Counter
    events_late: Counter
    events_dead_lettered: Counter
    rule_matches: Counter
    rule_triggers: Counter
    rule_resolves: Counter
    rule_suppressed: Counter
    rule_cap_evictions: Counter
    rule_late_events: Counter
    rule_partials_dropped: Counter
    rule_groups: Gauge
    pages_snoozed: Counter
    snoozes_active: Gauge
    alerts_emitted: Counter
    batch_duration: Histogram
    event_to_page: Histogram
    consumer_lag: Gauge
    watermark_lag: Gauge
    checkpoint_duration: Histogram
    checkpoint_failures: Counter
    transaction_retakes: Counter
    rules_reloads: Counter
    rules_loaded: Gauge
    worker_up: Gauge
    worker_ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, prefix: str = "signalfire") -> Metrics:
        f = Factory(registry, prefix)
        rule = ("rule",)
        m = cls(
            events_consumed=f.counter("events_consumed_total", "Records consumed.", ("topic",)),
            events_decoded=f.counter("events_decoded_total", "Records decoded into events."),
            events_late=f.counter("events_late_total", "Events older than the watermark."),
            events_dead_lettered=f.counter(
                "events_dead_lettered_total", "Records sent to the dead-letter topic.", ("reason",)
            ),
            rule_matches=f.counter("rule_matches_total", "Events matching a rule.", rule),
            rule_triggers=f.counter("rule_triggers_total", "Trigger transitions.", rule),
            rule_resolves=f.counter("rule_resolves_total", "Resolve transitions.", rule),
            rule_suppressed=f.counter("rule_suppressed_total", "Pages held by throttle.", rule),
            rule_cap_evictions=f.counter(
                "rule_cap_evictions_total", "Groups evicted at the rule's max_groups cap.", rule
            ),
            rule_late_events=f.counter("rule_late_events_total", "Late events per rule.", rule),
            rule_partials_dropped=f.counter(
                "rule_partials_dropped_total",
                "Sequence partial matches not started: their group had the most it may keep.",
                rule,
            ),
            rule_groups=f.gauge("rule_groups", "Groups currently tracked by a rule.", rule),
            pages_snoozed=f.counter(
                "pages_snoozed_total", "Triggers kept from on-call by a snooze.", rule
            ),
            snoozes_active=f.gauge("snoozes_active", "Snoozes read from the control topic."),
            alerts_emitted=f.counter(
                "alerts_emitted_total", "Alerts sent.", ("rule", "severity", "action")
            ),
            batch_duration=f.histogram(
                "batch_duration_seconds", "Time to process one batch.", BATCH_BUCKETS
            ),
            event_to_page=f.histogram(
                "event_to_page_seconds", "Event timestamp to alert produced.", PAGE_LATENCY_BUCKETS
            ),
            consumer_lag=f.gauge(
                "consumer_lag_records", "Records behind the end.", ("topic", "partition")
            ),
            watermark_lag=f.gauge("watermark_lag_seconds", "Wall clock minus worker watermark."),
            checkpoint_duration=f.histogram(
                "checkpoint_duration_seconds", "Time to checkpoint state.", CHECKPOINT_BUCKETS
            ),
            checkpoint_failures=f.counter("checkpoint_failures_total", "Failed checkpoints."),
            transaction_retakes=f.counter(
                "transaction_retakes_total",
                "Failed transactions after which the partitions were taken over again.",
            ),
            rules_reloads=f.counter("rules_reloads_total", "Rule set reloads.", ("outcome",)),
            rules_loaded=f.gauge("rules_loaded", "Rules in the running rule set."),
            worker_up=f.gauge("worker_up", "1 while the worker process runs."),
            worker_ready=f.gauge("worker_ready", "1 once the worker consumes and is caught up."),
        )
        for reason in DLQ_REASONS:  # bounded enums: every series exists from the start
            m.events_dead_lettered.labels(reason=reason)
        for outcome in RELOAD_OUTCOMES:
            m.rules_reloads.labels(outcome=outcome)
        return m

    def dead_lettered(self, reason: DeadLetterReason) -> None:
        self.events_dead_lettered.labels(reason=reason.value).inc()

    def alert(self, rule_id: str, severity: str, action: Action) -> None:
        self.alerts_emitted.labels(rule=rule_id, severity=severity, action=action).inc()

    def page_latency(self, event_ts_ms: int, now_ms: int) -> None:
        self.event_to_page.observe(max(0, now_ms - event_ts_ms) / 1000)

    def set_watermark(self, watermark_ms: int, now_ms: int) -> None:
        self.watermark_lag.set((now_ms - watermark_ms) / 1000)

    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(topic=topic, partition=str(partition)).set(lag)

    def rules_reloaded(self, *, ok: bool, loaded: int) -> None:
        """A reload attempt; `loaded` is the size of the rule set running afterwards."""
        self.rules_reloads.labels(outcome="ok" if ok else "rejected").inc()
        self.rules_loaded.set(loaded)

    def rule_counters(self) -> dict[str, Counter]:
        """The counter each field of `RuleCounts` adds to, by field name."""
        return {
            "matches": self.rule_matches,
            "triggers": self.rule_triggers,
            "resolves": self.rule_resolves,
            "suppressed": self.rule_suppressed,
            "cap_evictions": self.rule_cap_evictions,
            "late": self.rule_late_events,
            "partials_dropped": self.rule_partials_dropped,
        }

    def rule_counted(self, rule_id: str, counts: RuleCounts) -> None:
        counters = self.rule_counters()
        for name, n in counts.items():
            if n:
                counters[name].labels(rule=rule_id).inc(n)

    def rule_seen(self, rule_id: str) -> None:
        """Every counter of the rule exists, at 0 until it counts, so rate() sees the first
        increase."""
        for counter in self.rule_counters().values():
            counter.labels(rule=rule_id)
        self.pages_snoozed.labels(rule=rule_id)

    def forget_rule(self, rule_id: str) -> None:
        """The rule left the rule set or was replaced: drop its groups gauge."""
        with suppress(KeyError):  # never observed: no series to remove
            self.rule_groups.remove(rule_id)
