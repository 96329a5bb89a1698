"""The worker's metrics from what its partitions did: each transaction's outputs folded into
the counters once it is committed, and the gauges a scrape reads brought up to date."""

from __future__ import annotations

from alerting.metrics import Metrics
from signalfire.rules.model import Rule
from streams.outputs import Outputs
from streams.processor import Processor


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
    for alert in out.snoozed_alerts:
        m.pages_snoozed.labels(rule=alert.rule_id).inc()
    for rule_id, delta in out.rule_deltas.items():
        m.rule_counted(rule_id, delta)


def refresh_gauges(m: Metrics, processor: Processor, now_ms: int) -> None:
    for rule_id, n in processor.group_counts().items():
        m.rule_groups.labels(rule=rule_id).set(n)
        m.rule_seen(rule_id)
    marks = [w.engine.watermark for w in processor.works.values()]
    started = [w for w in marks if w > 0]
    if started:
        m.set_watermark(min(started), now_ms)
