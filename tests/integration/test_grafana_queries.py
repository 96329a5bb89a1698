"""Every Grafana panel query, run by a real Prometheus that scrapes a real worker.

The worker reads generated traffic plus a few hand-made events that make the rarer series
exist (a throttled second burst, late events, a record for the DLQ, a low group cap), so each
panel of the fleet and rules dashboards must return series. A real bridge forwards the
worker's pages to a local webhook (the first delivery of each page answered 500, so retries
show), and the delivery dashboard's panels must return series too.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from signalfire.generate import GeneratorConfig, iter_events
from tests.grafana_dashboards import (
    DASHBOARDS,
    label_values_query,
    load,
    substitute,
    targets,
    variables,
)
from tests.integration.bridge_harness import BridgeProcess, HookServer
from tests.integration.prometheus_server import PrometheusServer, prometheus_binary
from tests.integration.worker_harness import Topics, WorkerProcess, copy_rules, produce

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class DashboardCheck:
    file: str
    needs_series: bool  # every query returns data; otherwise it only has to parse


DASHBOARD_CHECKS = (
    DashboardCheck("fleet.json", needs_series=True),
    DashboardCheck("rules.json", needs_series=True),
    DashboardCheck("delivery.json", needs_series=True),
)
# Panels that must show the traffic itself, not only series that exist.
SHOWS_TRAFFIC = (
    ("fleet.json", "Records per second"),
    ("fleet.json", "Dead-lettered records per second by reason"),
    ("rules.json", "Matches per second per rule"),
    ("delivery.json", "Deliveries per second per sink"),
    ("delivery.json", "Retries per second per sink"),
)
# Grafana's own variables: windows long enough to span this test's whole Prometheus history,
# however slowly a loaded machine runs it (a 5m window let the traffic fall out of the rates).
GRAFANA_VALUES = {
    "__rate_interval": "1h",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
# Series the traffic below must create before the queries run: the rare ones first.
EXERCISED = (
    "signalfire_rule_suppressed_total",
    "signalfire_rule_late_events_total",
    "signalfire_rule_cap_evictions_total",
    "signalfire_events_dead_lettered_total",
    "signalfire_event_to_page_seconds_count",
    "signalfire_checkpoint_duration_seconds_count",
)
MAX_GROUPS = "200"  # far below the groups new_country_for_key tracks here: the cap bites


def burst(start_ms: int, tag: str) -> list[dict[str, Any]]:
    """1,001 requests of one key in 50 s: api_key_burst triggers."""
    return [
        {"event_id": f"{tag}-{i}", "ts": start_ms + i * 50, "org_id": "org_dash",
         "api_key_id": "key_dash", "event_type": "request"}
        for i in range(1001)
    ]  # fmt: skip


def traffic() -> list[dict[str, Any]]:
    events = list(iter_events(GeneratorConfig(seed=11, events=15_000, orgs=50)))
    t0 = max(e["ts"] for e in events) + 60_000
    # A second burst after the first resolved, inside api_key_burst's 30 min throttle.
    events += burst(t0, "first") + burst(t0 + 10 * 60_000, "second")
    # Moves event time on: the second burst is suppressed and the events after it are late.
    tick = {"event_id": "tick", "ts": t0 + 21 * 60_000, "org_id": "org_dash"}
    late = [{**e, "event_id": f"late-{n}"} for n, e in enumerate(burst(t0, "late")[:5])]
    bad = {"event_id": "bad", "ts": t0, "org_id": "org_dash", "status": "teapot"}
    return [*events, tick, *late, bad]  # one partition (org_dash) sees them in this order


@dataclass
class Scraped:
    prometheus: PrometheusServer
    worker: WorkerProcess
    bridge: BridgeProcess


@pytest.fixture(scope="module")
def scraped(kafka, tmp_path_factory) -> Iterator[Scraped]:
    """A worker that has processed `traffic()`, and a Prometheus that scraped it since before."""
    prometheus_binary()  # fail before starting anything when it is missing
    tmp = tmp_path_factory.mktemp("grafana")
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=2)
    worker = WorkerProcess(kafka, topics, copy_rules(tmp / "rules"))
    hook = HookServer(fail_first=500).__enter__()
    config = tmp / "bridge.yaml"
    config.write_text(
        f"sinks:\n  - name: hook\n    type: webhook\n    url: {hook.url}/hook\n"
        "    retry: {initial: 50ms, max: 200ms, attempts: 5}\nroutes:\n  - sinks: [hook]\n"
        "incidents: {window: 30m}\n"
    )
    kafka.create_topic(topics.pager, partitions=1)
    kafka.create_topic(f"{topics.pager}.dlq", partitions=1)
    bridge = BridgeProcess(
        kafka, config, topics.pager, f"{topics.pager}.dlq", f"bridge-{topics.group}"
    )
    prometheus: PrometheusServer | None = None
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SIGNALFIRE_MAX_GROUPS", MAX_GROUPS)
            worker.start(tmp)
        worker.wait_ready()
        bridge.start(tmp).wait_ready()
        # Scrape jobs by process kind, named as in deploy/prometheus (the dashboards use `job`).
        jobs = {
            "signalfire": [f"127.0.0.1:{worker.port}"],
            "signalfire-bridge": [f"127.0.0.1:{bridge.port}"],
        }
        prometheus = PrometheusServer(tmp / "prometheus", jobs).start()
        prometheus.wait_scrapes(1)  # counters seen before the traffic, so rates show it
        events = traffic()
        produce(kafka, topics.events, events)
        consumed = f'signalfire_events_consumed_total{{topic="{topics.events}"}}'
        worker.wait_metric(consumed, len(events))
        for name in EXERCISED:
            worker.wait_metric(name, 1)
        bridge.wait_metric("signalfire_bridge_deliveries_total", 1)
        bridge.wait_metric("signalfire_bridge_retries_total", 1)
        bridge.wait_metric("signalfire_bridge_incident_pages_total", 1, outcome="opened")
        prometheus.wait_scrapes(3)
        yield Scraped(prometheus, worker, bridge)
    finally:
        try:
            if prometheus is not None:
                prometheus.stop()
            for process in (bridge, worker):
                if process.proc is not None:
                    process.stop()
        finally:
            for process in (bridge, worker):
                if process.proc is not None and process.proc.poll() is None:
                    process.kill()
            hook.__exit__()


def grafana_values(model: dict[str, Any]) -> dict[str, str]:
    """Variables as Grafana sends them with every template variable set to All."""
    return GRAFANA_VALUES | {v["name"]: v["allValue"] for v in variables(model)}


def run_queries(prometheus: PrometheusServer, file: str) -> list[tuple[str, dict[str, Any]]]:
    model = load(DASHBOARDS / file)
    values = grafana_values(model)
    return [(str(t), prometheus.query(substitute(t.expr, values))) for t in targets(file, model)]


@pytest.mark.parametrize("check", DASHBOARD_CHECKS, ids=lambda c: c.file)
def test_every_panel_query_runs(scraped, check):
    answers = run_queries(scraped.prometheus, check.file)
    assert answers, f"{check.file} has no queries"
    failed = [f"{where}\n  -> {body}" for where, body in answers if body["status"] != "success"]
    if check.needs_series:
        failed += [
            f"{where}\n  -> no series"
            for where, body in answers
            if body["status"] == "success" and not body["data"]["result"]
        ]
    assert not failed, "\n".join(failed) + f"\n{scraped.prometheus.targets()}"


@pytest.mark.parametrize("check", DASHBOARD_CHECKS, ids=lambda c: c.file)
def test_template_variables_list_values(scraped, check):
    model = load(DASHBOARDS / check.file)
    for var in variables(model):
        query = label_values_query(var["definition"])
        assert query, f"{check.file}: ${var['name']} is not label_values(metric, label)"
        found = scraped.prometheus.label_values(query[1], query[0])
        if check.needs_series:
            assert found, f"{check.file}: ${var['name']} lists nothing"


def test_traffic_shows_in_the_rate_panels(scraped):
    for file, title in SHOWS_TRAFFIC:
        model = load(DASHBOARDS / file)
        values = grafana_values(model)
        panel = next(t for t in targets(file, model) if t.panel == title)  # its first query
        result = scraped.prometheus.query(substitute(panel.expr, values))["data"]["result"]
        peak = max((float(s["value"][1]) for s in result), default=0.0)
        assert peak > 0, f"{panel}: {result}"


def test_rules_dashboard_shows_each_rule_that_triggered(scraped):
    model = load(DASHBOARDS / "rules.json")
    (target,) = [t for t in targets("rules.json", model) if t.panel == "Triggers per rule"]
    result = scraped.prometheus.query(substitute(target.expr, grafana_values(model)))
    shown = {s["metric"]["rule"] for s in result["data"]["result"]}
    text = scraped.worker.get("/metrics")[1].decode()
    triggered = {
        line.split('"')[1]
        for line in text.splitlines()
        if line.startswith("signalfire_rule_triggers_total{")
    }
    # The worker may have paged again since the last scrape, never the other way round.
    assert "api_key_burst" in shown
    assert shown <= triggered
