"""The worker's metrics from what its partitions did: each transaction's outputs folded into
the counters once it is committed, and the gauges a scrape reads brought up to date."""

from __future__ import annotations

from prometheus_client import Counter

from alerting.metrics import Metrics
from signalfire.rules.model import Rule
from streams.outputs import RULE_COUNTERS, Outputs
from streams.processor import Processor


def rule_counters(m: Metrics) -> list[Counter]:
    """The per-rule counters, in the order of RULE_COUNTERS."""
    by_name = {
        "matches": m.rule_matches,
        "triggers": m.rule_triggers,
        "resolves": m.rule_resolves,
        "suppressed": m.rule_suppressed,
        "cap_evictions": m.rule_cap_evictions,
        "late": m.rule_late_events,
        "partials_dropped": m.rule_partials_dropped,
    }
    return [by_name[name] for name in RULE_COUNTERS]


def fold(m: Metrics, out: Outputs, rules: dict[str, Rule], now_ms: int) -> None:
    m.events_decoded.inc(out.decoded)
    m.events_late.inc(out.late)
    for dead in out.dead:
        m.dead_lettered(dead.reason)
    for alert in out.alerts:
        rule = rules.get(alert.rule_id)
        if rule is not None:
            m.alert(rule.id, rule.severity, alert.action)
        if alert.action == "trigger":
            m.page_latency(alert.at, now_ms)
    counters = rule_counters(m)
    for rule_id, delta in out.rule_deltas.items():
        for counter, d in zip(counters, delta, strict=True):
            if d:
                counter.labels(rule=rule_id).inc(d)


def refresh_gauges(m: Metrics, processor: Processor, now_ms: int) -> None:
    counters = rule_counters(m)
    for rule_id, n in processor.group_counts().items():
        m.rule_groups.labels(rule=rule_id).set(n)
        for counter in counters:
            counter.labels(rule=rule_id)  # exists at 0, so rate() sees the first increase
    marks = [w.engine.watermark for w in processor.works.values()]
    started = [w for w in marks if w > 0]
    if started:
        m.set_watermark(min(started), now_ms)
