"""Grafana provisioning and dashboards (deploy/grafana), checked without a Grafana: every file
parses, every panel queries the provisioned Prometheus, every metric a panel names exists, and no
query reaches for user-controlled labels."""

import re

import pytest
import yaml
from prometheus_client import CollectorRegistry

from alerting.bridge_metrics import BridgeMetrics
from alerting.metrics import Metrics
from alerting.quality_metrics import QualityMetrics
from tests.grafana_dashboards import (
    DATASOURCE,
    GRAFANA,
    GRAFANA_VARIABLES,
    dashboard_files,
    label_values_query,
    load,
    metric_names,
    panels,
    substitute,
    targets,
    used_variables,
    variables,
)

# What the bridge process will export (metric name -> type), until its bundle exists.
PROMETHEUS_METRICS = frozenset({"up"})  # written by Prometheus itself for every scrape target
FORBIDDEN_LABELS = re.compile(r"\b(org_id|account_id|api_key_id|ip)\b")
DASHBOARD_NAMES = {"fleet.json", "rules.json", "delivery.json", "quality.json"}
PROVIDER_PATH = "/var/lib/grafana/dashboards"


def series_names(name, kind):
    """The series names Prometheus stores for one metric of a kind."""
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    if kind == "counter" and not name.endswith("_total"):
        return {f"{name}_total"}
    return {name}


def worker_series():
    registry = CollectorRegistry()
    Metrics.create(registry)
    # From the families, not their samples: a labelled metric has none until first used.
    names = {n for fam in registry.collect() for n in series_names(fam.name, fam.type)}
    assert "signalfire_rule_triggers_total" in names
    assert "signalfire_event_to_page_seconds_bucket" in names
    return names


def bridge_series():
    registry = CollectorRegistry()
    BridgeMetrics.create(registry, ())
    names = {n for fam in registry.collect() for n in series_names(fam.name, fam.type)}
    assert "signalfire_bridge_deliveries_total" in names
    return names


def console_series():
    registry = CollectorRegistry()
    QualityMetrics.create(registry)
    names = {n for fam in registry.collect() for n in series_names(fam.name, fam.type)}
    assert "signalfire_quality_precision" in names
    return names


DASHBOARDS = {path.name: load(path) for path in dashboard_files()}
ALL_TARGETS = [t for name, model in DASHBOARDS.items() for t in targets(name, model)]


def test_the_dashboards_are_there():
    assert set(DASHBOARDS) >= DASHBOARD_NAMES


def test_datasource_is_the_compose_prometheus_with_a_fixed_uid():
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (ds,) = config["datasources"]
    assert ds["uid"] == DATASOURCE["uid"]
    assert ds["type"] == DATASOURCE["type"]
    assert ds["url"] == "http://prometheus:9090"


def test_dashboard_provider_loads_the_mounted_directory():
    config = yaml.safe_load((GRAFANA / "provisioning/dashboards/signalfire.yml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == PROVIDER_PATH


def test_dashboard_uids_are_unique_and_models_current():
    uids = [model["uid"] for model in DASHBOARDS.values()]
    assert len(uids) == len(set(uids)), uids
    for name, model in DASHBOARDS.items():
        assert model["schemaVersion"] == 39, name
        assert model["title"] and model["uid"], name
        ids = [p["id"] for p in panels(model)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_queries_the_prometheus_datasource(name):
    for panel in panels(DASHBOARDS[name]):
        where = f"{name} / {panel.get('title')}"
        assert panel["type"] in {"timeseries", "stat"}, where
        assert panel["datasource"] == DATASOURCE, where
        assert panel["targets"], f"{where}: no targets"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{where}: refIds repeat"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{where}: target without expr"
            assert target["datasource"] == DATASOURCE, where


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_fit_the_grid_without_overlapping(name):
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(DASHBOARDS[name]):
        g = panel["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum(up{job="signalfire", instance=~"$instance"})', {"up"}),
        (
            "histogram_quantile(0.99, sum by (sink, le) "
            '(rate(a_seconds_bucket{sink=~"$sink"}[$__rate_interval])))',
            {"a_seconds_bucket"},
        ),
        ("a_total / clamp_min(sum without (x) (b), 1e-9) > bool 0", {"a_total", "b"}),
        ("sum(b_up) or vector(0)", {"b_up"}),
        ('count(c{reason!~"by|on"}) unless on (topic) d offset 5m', {"c", "d"}),
    ],
)
def test_metric_names_are_found_in_promql(expr, names):
    assert metric_names(expr) == names


def test_every_metric_a_panel_uses_exists():
    known = worker_series() | bridge_series() | console_series() | PROMETHEUS_METRICS
    bridge, console = bridge_series(), console_series()
    for target in ALL_TARGETS:
        used = metric_names(target.expr)
        assert used, f"no metric in {target}"
        assert used <= known, f"unknown {sorted(used - known)} in {target}"
        for name in used:
            if name.startswith("signalfire_bridge_"):
                assert name in bridge, f"{name} is not a bridge metric, in {target}"
            if name.startswith("signalfire_quality_"):
                assert name in console, f"{name} is not a console metric, in {target}"
    for name, model in DASHBOARDS.items():
        for var in variables(model):
            parsed = label_values_query(var["definition"])
            assert parsed, f"{name}: variable {var['name']} is not label_values(metric, label)"
            assert parsed[0] in known, f"{name}: variable {var['name']} uses {parsed[0]}"
            assert var["datasource"] == DATASOURCE, f"{name}: variable {var['name']}"


def test_no_query_groups_or_filters_by_user_controlled_values():
    for target in ALL_TARGETS:
        assert not FORBIDDEN_LABELS.search(target.expr), str(target)
    for name, model in DASHBOARDS.items():
        for panel in panels(model):
            for target in panel["targets"]:
                legend = target.get("legendFormat", "")
                assert not FORBIDDEN_LABELS.search(legend), f"{name} / {panel['title']}: {legend}"
        for var in variables(model):
            assert not FORBIDDEN_LABELS.search(var["definition"]), f"{name}: {var['name']}"


def test_rates_use_the_rate_interval_and_variables_are_declared():
    for target in ALL_TARGETS:
        selectors = re.sub(r"\{[^}]*\}", "", target.expr)  # label regexes may hold brackets
        for func, window in re.findall(r"\b(\w+)\([^\[\(]*\[([^\]]*)\]", selectors):
            allowed = {"$__rate_interval"} | ({"$__range"} if func == "increase" else set())
            assert window in allowed, f"{func}[{window}] in {target}"
    for name, model in DASHBOARDS.items():
        declared = {v["name"] for v in variables(model)} | GRAFANA_VARIABLES
        for target in targets(name, model):
            unknown = used_variables(target.expr) - declared
            assert not unknown, f"undeclared {sorted(unknown)} in {target}"


def test_the_rule_variable_lists_every_loaded_rule():
    (rule,) = variables(DASHBOARDS["rules.json"])
    assert rule["name"] == "rule"
    assert label_values_query(rule["definition"]) == ("signalfire_rule_groups", "rule")
    assert rule["includeAll"] and rule["allValue"] == ".*"
    rule_targets = targets("rules.json", DASHBOARDS["rules.json"])
    assert all('rule=~"$rule"' in t.expr for t in rule_targets)


def test_the_quality_dashboard_filters_every_quality_query_by_rule():
    model = DASHBOARDS["quality.json"]
    assert model["title"].endswith("Detection quality")
    (rule,) = variables(model)
    assert label_values_query(rule["definition"]) == ("signalfire_quality_pages", "rule")
    assert rule["includeAll"] and rule["allValue"] == ".*"
    for target in targets("quality.json", model):
        if "signalfire_quality_" in target.expr:
            assert target.expr.count('rule=~"$rule"') == target.expr.count("signalfire_quality_")
        else:
            assert target.expr == 'sum(up{job="signalfire-console"})', str(target)


def test_the_deployed_prometheus_scrapes_the_console_as_the_quality_dashboard_expects():
    config = yaml.safe_load((GRAFANA.parent / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["signalfire-console"]["metrics_path"] == "/metrics"
    quality = targets("quality.json", DASHBOARDS["quality.json"])
    assert any('job="signalfire-console"' in t.expr for t in quality)


def test_substitute_replaces_every_variable_form():
    values = {"__rate_interval": "1m", "rule": ".*"}
    expr = 'rate(x{rule=~"$rule", b="${rule}", c="${rule:regex}"}[$__rate_interval])'
    assert substitute(expr, values) == 'rate(x{rule=~".*", b=".*", c=".*"}[1m])'
    with pytest.raises(KeyError, match="instance"):
        substitute("up{instance=~'$instance'}", values)
