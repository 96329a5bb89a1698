"""docker-compose.yml and the worker image, checked without a Docker engine (none here):
parsed, required services, ports, volumes and health checks present, image tags pinned."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_their_wiring():
    services = compose()["services"]
    assert {"kafka", "worker-1", "worker-2", "prometheus"} <= set(services)
    for name in ("worker-1", "worker-2"):
        w = services[name]
        env = w["environment"]
        assert env["SIGNALFIRE_BROKERS"] == "kafka:19092"
        assert env["SIGNALFIRE_GROUP_ID"] == "signalfire"  # one consumer group: scale-out
        assert w["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(w["healthcheck"]["test"])
        assert any(v.endswith(":/app/rules:ro") for v in w["volumes"])
    ports = [p for s in services.values() for p in s.get("ports", [])]
    assert len(ports) == len({p.split(":")[0] for p in ports}), "host ports must not clash"
    assert "kafka-data" in compose()["volumes"]


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


def test_prometheus_in_compose_scrapes_both_workers_and_loads_the_rules():
    cfg = yaml.safe_load((ROOT / "deploy/prometheus/compose.yml").read_text())
    targets = cfg["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["worker-1:6066", "worker-2:6066"]
    assert cfg["rule_files"] == ["rules/signalfire.rules.yml"]


def test_worker_image_is_pinned_and_runs_the_worker():
    text = (ROOT / "Dockerfile").read_text()
    base = next(line.split()[1] for line in text.splitlines() if line.startswith("FROM "))
    assert ":" in base and "latest" not in base
    assert 'CMD ["worker"]' in text and "USER signalfire" in text and "HEALTHCHECK" in text
