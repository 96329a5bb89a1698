"""deploy/k8s checked without a cluster (none here): every manifest parsed, the Deployments'
probes, ports, images, settings, secrets and security context, the kustomization, and the rules
ConfigMap as the real worker code reads it from a kubelet-style ConfigMap volume."""

import functools
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.bridge_config import load_bridge_config
from signalfire.rules import load_rules
from streams.bridge_settings import BRIDGE_SETTINGS, load_bridge_settings
from streams.config import SETTINGS, load_config
from streams.reload import rules_fingerprint

Doc = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "signalfire"
SECRET_TEMPLATE = "secrets.template.yaml"
# The bridge's own settings, beside those it shares with the worker.
BRIDGE_ONLY = {
    "SIGNALFIRE_BRIDGE_CONFIG",
    "SIGNALFIRE_PAGER_DLQ_TOPIC",
    "SIGNALFIRE_BRIDGE_GROUP_ID",
}
WEB_PORTS = {"signalfire-worker": 6066, "signalfire-bridge": 6068}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ROUTING_KEY|API_KEY")


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@functools.cache  # parsed once: the rules ConfigMap is large, and no test changes a document
def applied() -> list[Doc]:
    """Every object `kubectl apply -k deploy/k8s` creates."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [d for name in kustomization["resources"] for d in load_docs(K8S / name)]


def objects(kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in applied() if d["kind"] == kind}


def container(deployment: str) -> Doc:
    only: Doc
    (only,) = objects("Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    return only


def environment(deployment: str) -> dict[str, Doc]:
    """Name -> source of each variable the container gets: {"value": ...}, {"valueFrom": ...},
    or {"configMap": name, "value": ...} for those from envFrom."""
    c = container(deployment)
    maps = objects("ConfigMap")
    env: dict[str, Doc] = {}
    for source in c.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{deployment}: envFrom only from ConfigMaps"
        name = source["configMapRef"]["name"]
        assert name in maps, f"{deployment}: no ConfigMap {name}"
        for key, value in maps[name]["data"].items():
            env[key] = {"configMap": name, "value": value}
    for item in c.get("env", []):
        env[item["name"]] = {k: v for k, v in item.items() if k != "name"}
    return env


def container_port(c: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    number: int
    (number,) = [p["containerPort"] for p in c["ports"] if p["name"] == port]
    return number


def bridge_config_text() -> str:
    text: str = objects("ConfigMap")["signalfire-bridge"]["data"]["bridge.yaml"]
    return text


def names_the_bridge_config_reads() -> set[str]:
    """Environment variables the bridge config names for its secrets (`*_env` keys)."""
    cfg = yaml.safe_load(bridge_config_text())
    return {v for sink in cfg["sinks"] for k, v in sink.items() if k.endswith("_env")}


def test_every_manifest_parses_and_names_its_namespace():
    files = manifest_files()
    assert files, "no manifests in deploy/k8s"
    kinds = set()
    for path in files:
        docs = load_docs(path)
        assert docs, path.name
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), (path.name, doc)
            kinds.add(doc["kind"])
            if doc["kind"] != "Namespace":
                assert doc["metadata"].get("namespace") == NAMESPACE, (path.name, doc["kind"])
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "Secret"} <= kinds
    assert objects("Namespace") == {NAMESPACE: objects("Namespace")[NAMESPACE]}


def test_kustomization_lists_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == NAMESPACE
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    expected = {p.name for p in manifest_files()} - {SECRET_TEMPLATE}
    assert set(resources) == expected
    # applying the kustomization must never overwrite real Secrets with the placeholders
    assert SECRET_TEMPLATE not in resources
    assert not [d for d in applied() if d["kind"] == "Secret"]
    assert (K8S / "README.md").is_file()


def test_deployments_replicas_and_pod_labels():
    deployments = objects("Deployment")
    assert set(deployments) == set(WEB_PORTS)
    assert deployments["signalfire-worker"]["spec"]["replicas"] == 2
    assert deployments["signalfire-bridge"]["spec"]["replicas"] == 1
    for name, d in deployments.items():
        selector = d["spec"]["selector"]["matchLabels"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name


@pytest.mark.parametrize("deployment", sorted(WEB_PORTS))
def test_probes_hit_the_health_endpoints_on_the_web_port(deployment):
    c = container(deployment)
    port = WEB_PORTS[deployment]
    assert environment(deployment)["SIGNALFIRE_WEB_PORT"]["value"] == str(port)
    assert environment(deployment)["SIGNALFIRE_WEB_HOST"]["value"] == "0.0.0.0"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path, (deployment, probe)
        assert container_port(c, get["port"]) == port, (deployment, probe)
    if "startupProbe" in c:
        assert container_port(c, c["startupProbe"]["httpGet"]["port"]) == port


@pytest.mark.parametrize("deployment", sorted(WEB_PORTS))
def test_pods_are_annotated_for_prometheus(deployment):
    annotations = objects("Deployment")[deployment]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(WEB_PORTS[deployment])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_metrics_services_select_the_pods_on_their_port():
    services = objects("Service")
    deployments = objects("Deployment")
    assert services, "no Service"
    covered = set()
    for name, svc in services.items():
        spec = svc["spec"]
        assert spec.get("type", "ClusterIP") == "ClusterIP", name
        matching = [
            d
            for d in deployments.values()
            if spec["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, name
        deployment = matching[0]["metadata"]["name"]
        covered.add(deployment)
        c = container(deployment)
        for port in spec["ports"]:
            assert container_port(c, port["targetPort"]) == WEB_PORTS[deployment], name
    assert covered == set(WEB_PORTS), "a metrics Service for each Deployment"


def test_images_are_pinned_and_match_compose_and_kustomization():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose_image = compose["services"]["worker-1"]["image"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    tags = {i["name"]: i["newTag"] for i in kustomization.get("images", [])}
    for name in WEB_PORTS:
        image = container(name)["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, (name, image)
        assert image == compose_image, "the same image as docker-compose.yml"
        assert tags.get(repo, tag) == tag, (name, image)


def test_every_signalfire_variable_is_a_known_setting():
    known = (
        {s.env for s in SETTINGS}
        | {s.env for s in BRIDGE_SETTINGS}
        | names_the_bridge_config_reads()
    )
    assert {s.env for s in BRIDGE_SETTINGS} >= BRIDGE_ONLY
    seen = set()
    for doc in applied():
        text = yaml.safe_dump(doc)
        seen |= set(re.findall(r"\bSIGNALFIRE_[A-Z0-9_]+", text))
    for name in WEB_PORTS:
        seen |= {k for k in environment(name) if k.startswith("SIGNALFIRE_")}
    unknown = seen - known
    assert not unknown, f"not a setting of the worker or the bridge: {sorted(unknown)}"
    assert "SIGNALFIRE_BROKERS" in environment("signalfire-worker")
    assert "SIGNALFIRE_BROKERS" in environment("signalfire-bridge")


def test_bridge_settings_and_the_variables_its_config_reads_are_provided():
    env = environment("signalfire-bridge")
    assert set(env) >= BRIDGE_ONLY
    assert env["SIGNALFIRE_PAGER_TOPIC"]["value"] == "pager"
    assert env["SIGNALFIRE_PAGER_DLQ_TOPIC"]["value"] == "pager.dlq"
    for name in names_the_bridge_config_reads():
        assert "secretKeyRef" in env.get(name, {}).get("valueFrom", {}), name
    # the config file the bridge is told to read is the mounted ConfigMap key
    config_path = Path(env["SIGNALFIRE_BRIDGE_CONFIG"]["value"])
    c = container("signalfire-bridge")
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    volumes = objects("Deployment")["signalfire-bridge"]["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "signalfire-bridge"
    assert config_path.name in objects("ConfigMap")["signalfire-bridge"]["data"]


def plain_env(deployment: str, **overrides: str) -> dict[str, str]:
    """The container's variables as the process sees them, secrets given placeholder values."""
    env = {}
    for name, source in environment(deployment).items():
        env[name] = source["value"] if "value" in source else f"placeholder-{name.lower()}"
    return {**env, **overrides}


def test_worker_settings_are_accepted_by_the_worker(tmp_path):
    env = plain_env("signalfire-worker", SIGNALFIRE_RULES=str(tmp_path))
    config = load_config({}, env)
    assert config.web_port == WEB_PORTS["signalfire-worker"]
    assert config.web_host == "0.0.0.0"
    assert config.kafka.security_protocol.startswith("SASL")
    assert config.kafka.sasl_password == "placeholder-signalfire_sasl_password"


def test_bridge_settings_are_accepted_by_the_bridge(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text(bridge_config_text())
    env = plain_env("signalfire-bridge", SIGNALFIRE_BRIDGE_CONFIG=str(path))
    settings = load_bridge_settings({}, env)
    assert settings.web_port == WEB_PORTS["signalfire-bridge"]
    assert settings.pager_topic == "pager" and settings.pager_dlq_topic == "pager.dlq"
    assert settings.group_id == "signalfire-bridge"
    # the bridge shares the worker's Kafka connection settings
    worker = load_config({}, plain_env("signalfire-worker", SIGNALFIRE_RULES=str(tmp_path)))
    assert settings.kafka.options().keys() == worker.kafka.options().keys()
    assert settings.kafka.brokers == worker.kafka.brokers


def test_bridge_config_in_the_configmap_is_accepted_by_the_bridge(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text(bridge_config_text())
    env = {name: f"test-value-for-{name.lower()}" for name in names_the_bridge_config_reads()}
    config = load_bridge_config(path, env)
    assert set(config.sinks) == {"alertmanager", "pagerduty", "case-tool"}
    assert not config.routes[-1].match


def test_secrets_reach_pods_only_through_secret_references():
    secret_settings = {s.env for s in SETTINGS if s.secret}
    template = {d["metadata"]["name"]: d for d in load_docs(K8S / SECRET_TEMPLATE)}
    for cm in objects("ConfigMap").values():
        for key in cm["data"]:
            if re.fullmatch(r"[A-Z][A-Z0-9_]*", key):  # an environment variable
                assert key not in secret_settings and not SECRET_NAME.search(key), key
    references = 0
    for name in WEB_PORTS:
        for var, source in environment(name).items():
            if var in secret_settings or SECRET_NAME.search(var):
                ref = source.get("valueFrom", {}).get("secretKeyRef")
                assert ref, f"{name}: {var} must come from a Secret"
                references += 1
                secret = template[ref["name"]]
                assert ref["key"] in secret["stringData"], (name, var, ref)
        c = container(name)
        assert "SIGNALFIRE_SASL_PASSWORD" in environment(name), name
        # nothing secret travels as a command-line flag
        assert not any("password" in a.lower() or "secret" in a.lower() for a in c.get("args", []))
    assert references >= 4  # SASL password x2, routing key, HMAC secret


def test_secret_template_holds_placeholders_only():
    for secret in load_docs(K8S / SECRET_TEMPLATE):
        assert secret["kind"] == "Secret"
        assert "data" not in secret, "base64 data could hide a real value"
        for key, value in secret["stringData"].items():
            assert re.fullmatch(r"<[a-z0-9-]+>", value), (secret["metadata"]["name"], key)


@pytest.mark.parametrize("deployment", sorted(WEB_PORTS))
def test_containers_run_non_root_on_a_read_only_root(deployment):
    pod = objects("Deployment")[deployment]["spec"]["template"]["spec"]
    c = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    requests, limits = c["resources"]["requests"], c["resources"]["limits"]
    assert {"cpu", "memory"} <= set(requests) and "memory" in limits
    # The worker writes Faust's data directory into its working directory, and Python may use
    # /tmp: both must be writable volumes.
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {
        m["mountPath"]
        for m in c["volumeMounts"]
        if not m.get("readOnly") and "emptyDir" in volumes[m["name"]]
    }
    assert c["workingDir"] in writable
    assert "/tmp" in writable


def test_worker_rules_come_from_the_rules_configmap():
    env = environment("signalfire-worker")
    rules_dir = env["SIGNALFIRE_RULES"]["value"]
    c = container("signalfire-worker")
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == rules_dir]
    assert mount.get("readOnly") is True and "subPath" not in mount  # subPath never updates
    volumes = objects("Deployment")["signalfire-worker"]["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "signalfire-rules"
    assert "items" not in volume["configMap"], "every rule file is projected"


def rules_configmap_data() -> dict[str, str]:
    data: dict[str, str] = objects("ConfigMap")["signalfire-rules"]["data"]
    return data


def test_rules_configmap_is_the_catalogue():
    catalogue = {p.name: p.read_text() for p in sorted((ROOT / "rules").glob("*.yaml"))}
    data = rules_configmap_data()
    stale = sorted(k for k in catalogue.keys() | data.keys() if catalogue.get(k) != data.get(k))
    assert not stale, (
        f"deploy/k8s/rules.generated.yaml differs from rules/ for {stale}: regenerate it "
        "(command in deploy/k8s/README.md)"
    )


def project(mount: Path, data: dict[str, str], stamp: str) -> None:
    """Write `data` into `mount` the way the kubelet fills a ConfigMap volume: files in a
    hidden timestamped directory, `..data` pointing at it, and a symlink per key."""
    mount.mkdir(exist_ok=True)
    version = mount / f"..{stamp}"
    version.mkdir()
    for key, text in data.items():
        (version / key).write_text(text)
    old = (mount / "..data").resolve() if (mount / "..data").exists() else None
    (mount / "..data_tmp").symlink_to(version.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    for key in data:
        if not (mount / key).is_symlink():
            (mount / key).symlink_to(Path("..data") / key)
    if old is not None:
        for f in old.iterdir():
            f.unlink()
        old.rmdir()


def test_the_worker_loads_the_rules_from_a_configmap_volume(tmp_path):
    mount = tmp_path / "rules"
    data = rules_configmap_data()
    project(mount, data, "2026_11_23_08_00_00.1")
    from_volume = load_rules([mount])
    from_repo = load_rules([ROOT / "rules"])
    ids = [r.id for r in from_volume.rules]
    assert len(ids) == len(set(ids)), "each rule loaded once, not again from ..<timestamp>/"
    assert sorted(ids) == sorted(r.id for r in from_repo.rules)


def test_the_worker_sees_a_configmap_update(tmp_path):
    mount = tmp_path / "rules"
    data = rules_configmap_data()
    project(mount, data, "2026_11_23_08_00_00.1")
    before = rules_fingerprint(str(mount))
    assert len(before) == len(data)
    key = sorted(data)[0]
    edited = {**data, key: data[key].replace("title:", "title: edited -", 1)}
    project(mount, edited, "2026_11_23_08_01_00.2")
    after = rules_fingerprint(str(mount))
    assert after != before
    assert [p for p, *_ in after] == [p for p, *_ in before]
    assert "edited -" in next(r.title for r in load_rules([mount]).rules if f"{r.id}.yaml" == key)
