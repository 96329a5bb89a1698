"""The metrics bundle: names and types, bounded labels, DLQ reasons, cumulative folding, render."""

import pytest
from prometheus_client import CollectorRegistry

from alerting.bridge_metrics import BridgeMetrics
from alerting.metrics import (
    ALLOWED_LABELS,
    DLQ_REASONS,
    Factory,
    Metrics,
    render,
)
from alerting.quality import quality_table
from alerting.quality_metrics import QualityMetrics
from alerting.store.model import TriageFact
from signalfire.engine.core import CoreEngine
from signalfire.events import DeadLetterReason
from signalfire.rulecounts import FIELDS, RuleCounts
from streams.records import rejected, usable_values
from tests.unit.streams.memory_kafka import Record

FORBIDDEN = {"org_id", "account_id", "api_key_id", "ip", "event_id", "key", "org"}

EXPECTED = {  # family name (counters without `_total`) -> type
    "signalfire_events_consumed": "counter",
    "signalfire_events_decoded": "counter",
    "signalfire_events_late": "counter",
    "signalfire_events_dead_lettered": "counter",
    "signalfire_rule_matches": "counter",
    "signalfire_rule_triggers": "counter",
    "signalfire_rule_resolves": "counter",
    "signalfire_rule_suppressed": "counter",
    "signalfire_rule_cap_evictions": "counter",
    "signalfire_rule_late_events": "counter",
    "signalfire_rule_partials_dropped": "counter",
    "signalfire_rule_groups": "gauge",
    "signalfire_pages_snoozed": "counter",
    "signalfire_snoozes_active": "gauge",
    "signalfire_alerts_emitted": "counter",
    "signalfire_batch_duration_seconds": "histogram",
    "signalfire_event_to_page_seconds": "histogram",
    "signalfire_consumer_lag_records": "gauge",
    "signalfire_watermark_lag_seconds": "gauge",
    "signalfire_checkpoint_duration_seconds": "histogram",
    "signalfire_checkpoint_failures": "counter",
    "signalfire_transaction_retakes": "counter",
    "signalfire_rules_reloads": "counter",
    "signalfire_rules_loaded": "gauge",
    "signalfire_worker_up": "gauge",
    "signalfire_worker_ready": "gauge",
}


@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def m(registry):
    return Metrics.create(registry)


def exercise(m: Metrics) -> None:
    """Touch every metric once, the way the worker and the bridges would."""
    m.events_consumed.labels(topic="usage-events").inc(3)
    m.events_decoded.inc(2)
    m.dead_lettered(DeadLetterReason.NOT_OBJECT)
    m.events_late.inc()
    for counter in (m.rule_matches, m.rule_triggers, m.rule_suppressed, m.rule_late_events):
        counter.labels(rule="api_key_burst").inc()
    m.rule_groups.labels(rule="api_key_burst").set(4)
    m.alert("api_key_burst", "critical", "trigger")
    m.batch_duration.observe(0.002)
    m.page_latency(event_ts_ms=1_000, now_ms=1_250)
    m.set_consumer_lag("usage-events", 0, 17)
    m.set_watermark(watermark_ms=10_000, now_ms=40_000)
    m.checkpoint_duration.observe(0.05)
    m.checkpoint_failures.inc()
    m.transaction_retakes.inc()
    m.rules_reloaded(ok=True, loaded=12)
    m.worker_up.set(1)
    m.worker_ready.set(1)


def test_every_metric_exists_with_its_type(registry, m):
    exercise(m)
    families = {f.name: f.type for f in registry.collect()}
    assert families == EXPECTED
    assert all(f.documentation for f in registry.collect())


def test_prefix_and_separate_registries():
    a, b = CollectorRegistry(), CollectorRegistry()
    Metrics.create(a, prefix="sf").events_decoded.inc()
    Metrics.create(b)  # a second bundle on another registry does not clash
    assert a.get_sample_value("sf_events_decoded_total") == 1
    assert b.get_sample_value("signalfire_events_decoded_total") == 0
    with pytest.raises(ValueError, match="Duplicated"):
        Metrics.create(a, prefix="sf")


def test_labels_are_bounded(registry, m):
    exercise(m)
    bridge = BridgeMetrics.create(registry, ("pagerduty", "alertmanager"))
    bridge.deliveries.labels(sink="pagerduty").inc()
    bridge.failed("alertmanager", "exhausted")
    fact = TriageFact(1, "r", "info", 0, 1000, 2000, "benign")
    QualityMetrics.create(registry).update(quality_table([fact]), 60)
    names = {
        label
        for family in registry.collect()
        for sample in family.samples
        for label in sample.labels
        if label != "le"  # histogram bucket bound, added by the client
    }
    assert names <= ALLOWED_LABELS
    assert not names & FORBIDDEN
    assert names == ALLOWED_LABELS  # every allowed label is in use


def test_create_refuses_labels_outside_the_allowed_set():
    f = Factory(CollectorRegistry(), "x")
    with pytest.raises(ValueError, match="org_id not in ALLOWED_LABELS"):
        f.counter("by_org_total", "no", ("rule", "org_id"))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{nope", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'{"event_id": "e1", "ts": 1}', "missing_field"),
        (b'{"event_id": "e1", "org_id": "o"}', "missing_field"),
        (b'{"event_id": "", "org_id": "o", "ts": 1}', "wrong_type"),
        (b'{"event_id": "e1", "org_id": "o", "ts": 1, "status": "500"}', "wrong_type"),
        (b'{"event_id": "e1", "org_id": "o", "ts": -5}', "wrong_type"),
        (b'{"event_id": "e1", "org_id": "o", "ts": "yesterday"}', "wrong_type"),
        (b'{"event_id": "e1", "org_id": "o", "ts": 1, "categories": [1]}', "wrong_type"),
        (None, "other"),
        (b"x" * 2_000, "oversized"),
    ],
)
def test_each_refused_record_carries_its_dead_letter_reason(raw, reason):
    records = [Record("events", 0, 0, None, raw)]
    values, positions, dead = usable_values(records, 1_000)
    dead += rejected(records, positions, CoreEngine([]).process(values).dead_letters)
    (letter,) = dead
    assert letter.reason == reason
    assert reason in DLQ_REASONS
    registry = CollectorRegistry()
    Metrics.create(registry).dead_lettered(letter.reason)
    sample = registry.get_sample_value("signalfire_events_dead_lettered_total", {"reason": reason})
    assert sample == 1


def test_dead_lettered_series_exist_at_zero_and_count(registry, m):
    name = "signalfire_events_dead_lettered_total"
    assert all(registry.get_sample_value(name, {"reason": r}) == 0 for r in DLQ_REASONS)
    m.dead_lettered(DeadLetterReason.WRONG_TYPE)
    m.dead_lettered(DeadLetterReason.WRONG_TYPE)
    assert registry.get_sample_value(name, {"reason": "wrong_type"}) == 2


def rule_values(registry, rule_id="r1"):
    labels = {"rule": rule_id}
    return {
        name: registry.get_sample_value(f"signalfire_rule_{name}", labels)
        for name in (
            "matches_total",
            "triggers_total",
            "resolves_total",
            "suppressed_total",
            "cap_evictions_total",
            "late_events_total",
            "partials_dropped_total",
            "groups",
        )
    }


def test_each_rule_count_goes_to_its_counter(registry, m):
    assert tuple(m.rule_counters()) == FIELDS
    m.rule_seen("r1")
    assert all(v == 0 for k, v in rule_values(registry).items() if k != "groups")
    m.rule_counted("r1", RuleCounts(matches=3, late=2, partials_dropped=1))
    m.rule_counted("r1", RuleCounts(matches=1, suppressed=4, cap_evictions=5))
    values = rule_values(registry)
    assert (values["matches_total"], values["late_events_total"]) == (4, 2)
    assert (values["suppressed_total"], values["cap_evictions_total"]) == (4, 5)
    assert (values["triggers_total"], values["resolves_total"]) == (0, 0)
    assert values["partials_dropped_total"] == 1


def test_forget_rule_drops_the_groups_gauge(registry, m):
    m.forget_rule("never-seen")  # harmless
    m.rule_groups.labels(rule="r1").set(2)
    m.rule_matches.labels(rule="r1").inc(10)
    m.forget_rule("r1")
    assert rule_values(registry)["groups"] is None
    assert rule_values(registry)["matches_total"] == 10  # counters keep counting


def test_helpers(registry, m):
    m.set_watermark(watermark_ms=1_000, now_ms=31_500)
    m.page_latency(event_ts_ms=5_000, now_ms=4_000)  # clock skew clamps to zero
    m.rules_reloaded(ok=True, loaded=12)
    m.rules_reloaded(ok=False, loaded=12)
    assert registry.get_sample_value("signalfire_watermark_lag_seconds") == 30.5
    assert registry.get_sample_value("signalfire_event_to_page_seconds_sum") == 0
    assert registry.get_sample_value("signalfire_rules_reloads_total", {"outcome": "ok"}) == 1
    assert registry.get_sample_value("signalfire_rules_reloads_total", {"outcome": "rejected"}) == 1
    assert registry.get_sample_value("signalfire_rules_loaded") == 12


def test_histogram_buckets_cover_the_ranges(registry, m):
    batch = "signalfire_batch_duration_seconds_bucket"
    page = "signalfire_event_to_page_seconds_bucket"
    for name, bound in ((batch, "0.0001"), (batch, "1.0"), (page, "0.001"), (page, "60.0")):
        assert registry.get_sample_value(name, {"le": bound}) == 0


def test_render(registry, m):
    exercise(m)
    payload, content_type = render(registry)
    text = payload.decode()
    assert content_type.startswith("text/plain")
    for name, kind in EXPECTED.items():
        exposed = f"{name}_total" if kind == "counter" else name
        assert f"# TYPE {exposed} {kind}\n" in text
    assert 'signalfire_alerts_emitted_total{action="trigger",rule="api_key_burst",' in text


def test_render_only_the_named_series(registry, m):
    exercise(m)
    names = ["signalfire_events_decoded_total", "signalfire_events_dead_lettered_total"]
    text = render(registry, names)[0].decode()
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    assert exposed == set(names)
    assert render(registry, ["signalfire_no_such_series"])[0] == b""


async def test_the_bridge_serves_the_named_series_when_asked() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from streams.bridge_app import web_app

    registry = CollectorRegistry()
    metrics = BridgeMetrics.create(registry, ("webhook",))
    metrics.consumed.inc(3)
    async with TestClient(TestServer(web_app([], registry))) as client:
        whole = await (await client.get("/metrics")).text()
        only = await (await client.get("/metrics?name[]=signalfire_bridge_consumed_total")).text()
    assert "signalfire_bridge_consumed_total 3.0" in only
    assert len(only.splitlines()) == 3  # its HELP, TYPE and sample
    assert len(whole.splitlines()) > 3
