"""docker-compose.yml and the worker image, checked without a Docker engine (none here):
parsed, required services, ports, volumes and health checks present, image tags pinned."""

from pathlib import Path

import yaml

from alerting.bridge_config import load_bridge_config
from alerting.console.config import load_console_config
from streams.bridge_settings import load_bridge_settings
from streams.config import load_config
from streams.console_settings import load_console_settings

ROOT = Path(__file__).resolve().parents[2]
WORKER_IMAGE = "signalfire-worker:0.1.0"


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def host_port(mapping: str) -> str:
    # "HOST:CONTAINER" or "IP:HOST:CONTAINER"
    parts = mapping.split(":")
    return ":".join(parts[:-1])


def test_services_and_their_wiring():
    services = compose()["services"]
    assert {
        "kafka", "worker-1", "worker-2", "bridge", "console", "alertmanager", "prometheus",
        "grafana",
    } <= set(services)  # fmt: skip
    for name in ("worker-1", "worker-2"):
        w = services[name]
        env = w["environment"]
        assert env["SIGNALFIRE_BROKERS"] == "kafka:19092"
        assert env["SIGNALFIRE_GROUP_ID"] == "signalfire"  # one consumer group: scale-out
        assert w["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(w["healthcheck"]["test"])
        assert any(v.endswith(":/app/rules:ro") for v in w["volumes"])
    ports = [host_port(p) for s in services.values() for p in s.get("ports", [])]
    assert len(ports) == len(set(ports)), f"host ports must not clash: {sorted(ports)}"
    assert "kafka-data" in compose()["volumes"]


def test_bridge_runs_the_worker_image_on_the_compose_config():
    services = compose()["services"]
    bridge = services["bridge"]
    assert bridge["image"] == services["worker-1"]["image"] == WORKER_IMAGE
    assert bridge["command"] == ["bridge", "--config", "/app/deploy/bridge/compose.yaml"]
    assert "./deploy/bridge:/app/deploy/bridge:ro" in bridge["volumes"]
    assert "pages-data:/var/lib/signalfire" in bridge["volumes"]
    assert (ROOT / "deploy/bridge/compose.yaml").is_file()
    env = bridge["environment"]
    assert env["SIGNALFIRE_BROKERS"] == "kafka:19092"
    assert env["SIGNALFIRE_WEB_HOST"] == "0.0.0.0"
    assert env["SIGNALFIRE_WEB_PORT"] == "6068"
    assert bridge["ports"] == ["6068:6068"]
    assert "127.0.0.1:6068/healthz" in " ".join(bridge["healthcheck"]["test"])
    assert bridge["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "alertmanager" in bridge["depends_on"]


def test_bridge_compose_config_targets_the_compose_alertmanager():
    cfg = yaml.safe_load((ROOT / "deploy/bridge/compose.yaml").read_text())
    sinks = {s["name"]: s for s in cfg["sinks"]}
    assert len(sinks) == len(cfg["sinks"]), "sink names are unique"
    assert sinks["alertmanager"]["type"] == "alertmanager"
    assert sinks["alertmanager"]["url"] == "http://alertmanager:9093"
    routes = cfg["routes"]
    assert "match" not in routes[-1], "the last route catches everything"
    assert routes[-1]["sinks"] == ["alertmanager"]


def test_bridge_compose_config_is_accepted_by_the_bridge_without_secrets():
    # `docker compose up` must work with nothing exported: no sink needs a secret.
    config = load_bridge_config(ROOT / "deploy/bridge/compose.yaml", {})
    assert set(config.sinks) == {"alertmanager", "store"}
    assert config.routes[0].sinks == ("store",) and config.routes[0].continue_
    assert not config.routes[-1].match


def test_the_console_reads_the_store_the_bridge_writes():
    services = compose()["services"]
    console = services["console"]
    assert console["image"] == WORKER_IMAGE
    assert console["command"] == [
        "console",
        "serve",
        "--config",
        "/app/deploy/console/compose.yaml",
    ]
    assert "pages-data:/var/lib/signalfire" in console["volumes"]
    assert "pages-data" in compose()["volumes"]
    assert console["ports"] == ["8080:8080"]
    assert "127.0.0.1:8080/healthz" in " ".join(console["healthcheck"]["test"])
    assert console["depends_on"]["kafka"]["condition"] == "service_healthy"
    env = console["environment"]
    settings = load_console_settings(
        {"console_config": str(ROOT / "deploy/console/compose.yaml")}, env
    )
    assert (settings.kafka.brokers, settings.listen) == ("kafka:19092", ("0.0.0.0", 8080))
    config = load_console_config(ROOT / "deploy/console/compose.yaml", {})
    bridge = yaml.safe_load((ROOT / "deploy/bridge/compose.yaml").read_text())
    [store] = [s for s in bridge["sinks"] if s["type"] == "store"]
    assert config.store_url == store["url"] == "sqlite:////var/lib/signalfire/pages.db"
    assert config.users["admin"].accepts("signalfire-compose")


def test_worker_and_bridge_environments_are_accepted_by_their_loaders():
    services = compose()["services"]
    worker_env = {**services["worker-1"]["environment"], "SIGNALFIRE_RULES": str(ROOT / "rules")}
    worker = load_config({}, worker_env)
    assert (worker.kafka.brokers, worker.web_port) == ("kafka:19092", 6066)
    bridge_env = dict(services["bridge"]["environment"])
    # the container path of --config, as mounted from ./deploy/bridge
    config = str(ROOT / "deploy/bridge/compose.yaml")
    bridge = load_bridge_settings({"bridge_config": config}, bridge_env)
    assert (bridge.kafka.brokers, bridge.web_port) == ("kafka:19092", 6068)
    assert bridge.web_host == "0.0.0.0"


def test_alertmanager_and_grafana_are_wired():
    services = compose()["services"]
    am = services["alertmanager"]
    config = "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
    assert config in am["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in am["command"]
    assert am["ports"] == ["9093:9093"]
    assert "/-/ready" in " ".join(am["healthcheck"]["test"])
    grafana = services["grafana"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert grafana["ports"] == ["3000:3000"]
    assert "/api/health" in " ".join(grafana["healthcheck"]["test"])
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer", "anonymous users only view"
    assert not any("PASSWORD" in name for name in env), "no credentials in the compose file"


def test_every_service_has_a_healthcheck_and_pinned_image():
    for name, service in compose()["services"].items():
        assert "healthcheck" in service, name
        image = service.get("image", "")
        assert image and ":" in image and not image.endswith(":latest"), (name, image)


def test_mounted_files_exist():
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_prometheus_in_compose_scrapes_workers_and_bridge_and_alerts_alertmanager():
    cfg = yaml.safe_load((ROOT / "deploy/prometheus/compose.yml").read_text())
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in cfg["scrape_configs"]
    }
    assert targets == {
        "signalfire": ["worker-1:6066", "worker-2:6066"],
        "signalfire-bridge": ["bridge:6068"],
        "signalfire-console": ["console:8080"],
    }
    assert cfg["rule_files"] == ["rules/signalfire.rules.yml"]
    managers = [t for am in cfg["alerting"]["alertmanagers"] for sc in am["static_configs"]
                for t in sc["targets"]]  # fmt: skip
    assert managers == ["alertmanager:9093"]
    # every scraped and alerted host:port is a compose service listening there
    services = compose()["services"]
    for target in [*targets["signalfire"], *targets["signalfire-bridge"], *managers]:
        host, port = target.split(":")
        service = services[host]
        exposed = {p.split(":")[-1] for p in service.get("ports", [])}
        port_env = service.get("environment", {}).get("SIGNALFIRE_WEB_PORT")
        assert port in exposed or port == port_env, target


def test_worker_image_is_pinned_and_runs_the_worker():
    text = (ROOT / "Dockerfile").read_text()
    bases = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert bases and all(":" in b and "latest" not in b for b in bases)
    assert 'CMD ["worker"]' in text and "USER signalfire" in text and "HEALTHCHECK" in text
    # the compiled core is built into the wheel in a build stage, from the locked crates
    assert "COPY core ./core" in text and "maturin build --release --locked" in text
    for package in ("signalfire", "streams", "alerting"):
        assert f"COPY {package} ./{package}" in text
