"""deploy/alertmanager/alertmanager.yml checked by Alertmanager's own tools: `amtool` validates
it and resolves the routing tree, and a real Alertmanager (Debian's prometheus-alertmanager,
installed by `make tools`) serves it on loopback and routes and inhibits posted alerts.
A missing binary fails, it does not skip."""

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kafka_broker import free_port

pytestmark = pytest.mark.integration
Doc = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
INSTALL = "install Debian's prometheus-alertmanager package (`make tools`)"
READY_WAIT_S = 60

# Labels as they arrive (bridge: rule id, severity, rule labels; Prometheus: self-alerts)
# and the receiver each must reach.
ROUTING = [
    ({"alertname": "api_key_burst", "severity": "critical", "team": "tns", "abuse": "scraping"},
     "tns-critical"),
    ({"alertname": "ip_account_fanout", "severity": "error", "team": "tns",
      "abuse": "account_farm"}, "tns-error"),
    ({"alertname": "flagged_surge", "severity": "warning", "team": "tns",
      "abuse": "harmful_content"}, "tns-warning"),
    ({"alertname": "max_prompt_tokens", "severity": "info", "team": "tns", "abuse": "evasion"},
     "tns-info"),
    ({"alertname": "child_safety_flag", "severity": "critical", "team": "tns",
      "abuse": "child_safety"}, "tns-child-safety"),
    ({"alertname": "SignalfireWorkerDown", "severity": "page", "job": "signalfire",
      "instance": "worker-1:6066"}, "platform-page"),
    ({"alertname": "SignalfireDeadLetterRate", "severity": "ticket"}, "platform-ticket"),
    ({"alertname": "something_else", "severity": "critical"}, "fallback"),
]  # fmt: skip


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{' or '.join(names)} not found: {INSTALL}", pytrace=False)


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("amtool"), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_amtool_check_config_passes():
    done = amtool("check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    assert "8 receivers" in done.stdout


@pytest.mark.parametrize(("labels", "receiver"), ROUTING, ids=[r for _, r in ROUTING])
def test_routing_tree_sends_each_kind_of_alert_to_its_receiver(labels, receiver):
    done = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}", *(f"{k}={v}" for k, v in labels.items()),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [receiver]


class Alertmanager:
    def __init__(self, url: str, process: subprocess.Popen[str], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def request(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def alerts(self) -> list[Doc]:
        found = self.request("GET", "/api/v2/alerts")
        assert isinstance(found, list)
        return found


@pytest.fixture(scope="module")
def alertmanager() -> Iterator[Alertmanager]:
    exe = binary("alertmanager", "prometheus-alertmanager")
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="signalfire-alertmanager-"))
    log = work / "alertmanager.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                exe,
                f"--config.file={CONFIG}",
                f"--storage.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + READY_WAIT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"alertmanager exited:\n{log.read_text()}", pytrace=False)
            try:
                with urllib.request.urlopen(am.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"alertmanager not ready:\n{log.read_text()}", pytrace=False)
            time.sleep(0.2)
        yield am
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


def wait_for(am: Alertmanager, check, what: str) -> list[Doc]:
    """Poll the API until `check(alerts)` holds; Alertmanager applies posted alerts
    asynchronously."""
    deadline = time.monotonic() + READY_WAIT_S
    while True:
        alerts = am.alerts()
        if check(alerts):
            return alerts
        if time.monotonic() > deadline:
            pytest.fail(f"{what}; alerts: {json.dumps(alerts, indent=1)}", pytrace=False)
        time.sleep(0.2)


def test_real_alertmanager_loads_the_config(alertmanager):
    status = alertmanager.request("GET", "/api/v2/status")
    assert isinstance(status, dict)
    assert "tns-critical" in status["config"]["original"]


def test_real_alertmanager_routes_posted_alerts_to_their_receivers(alertmanager):
    posted = [{"labels": labels, "annotations": {"summary": "test"}} for labels, _ in ROUTING]
    alertmanager.request("POST", "/api/v2/alerts", posted)
    names = {labels["alertname"] for labels, _ in ROUTING}

    def all_there(alerts: list[Doc]) -> bool:
        return names <= {a["labels"]["alertname"] for a in alerts}

    alerts = wait_for(alertmanager, all_there, "posted alerts did not all appear")
    receivers = {
        a["labels"]["alertname"]: [r["name"] for r in a["receivers"]]
        for a in alerts
        if a["labels"]["alertname"] in names
    }
    assert receivers == {labels["alertname"]: [receiver] for labels, receiver in ROUTING}


def test_real_alertmanager_groups_detections_by_incident(alertmanager):
    # one attack on o_1 raises two rules: one notification group; o_2's page is another
    tns = {"severity": "critical", "team": "tns", "abuse": "stolen_key"}
    posted = [
        {"alertname": "token_drain", "org_id": "o_1", "incident": "inc_1111111111111111"},
        {"alertname": "new_country_for_key", "org_id": "o_1", "incident": "inc_1111111111111111"},
        {"alertname": "token_drain", "org_id": "o_2", "incident": "inc_2222222222222222"},
    ]
    alertmanager.request("POST", "/api/v2/alerts", [{"labels": {**tns, **p}} for p in posted])

    def incident_groups() -> dict[str, Doc]:
        groups = alertmanager.request("GET", "/api/v2/alerts/groups")
        assert isinstance(groups, list)
        return {g["labels"]["incident"]: g for g in groups if "incident" in g["labels"]}

    deadline = time.monotonic() + READY_WAIT_S
    while sum(len(g["alerts"]) for g in incident_groups().values()) < 3:
        if time.monotonic() > deadline:
            pytest.fail(f"alerts not grouped: {incident_groups()}", pytrace=False)
        time.sleep(0.2)
    groups = incident_groups()
    assert set(groups) == {"inc_1111111111111111", "inc_2222222222222222"}
    first = groups["inc_1111111111111111"]
    assert first["labels"] == {"incident": "inc_1111111111111111"}
    assert first["receiver"]["name"] == "tns-critical"
    assert sorted(a["labels"]["alertname"] for a in first["alerts"]) == [
        "new_country_for_key",
        "token_drain",
    ]


def test_real_alertmanager_inhibits_not_ready_while_the_worker_is_down(alertmanager):
    instance = {"job": "signalfire", "instance": "worker-2:6066"}
    alertmanager.request(
        "POST",
        "/api/v2/alerts",
        [
            {"labels": {"alertname": "SignalfireWorkerDown", "severity": "page", **instance}},
            {"labels": {"alertname": "SignalfireWorkerNotReady", "severity": "page", **instance}},
            # another worker's NotReady is not covered by this worker being down
            {"labels": {"alertname": "SignalfireWorkerNotReady", "severity": "page",
                        "job": "signalfire", "instance": "worker-9:6066"}},
        ],
    )  # fmt: skip

    def not_ready(alerts: list[Doc], host: str) -> Doc | None:
        return next(
            (
                a
                for a in alerts
                if a["labels"]["alertname"] == "SignalfireWorkerNotReady"
                and a["labels"]["instance"] == host
            ),
            None,
        )

    def inhibited(alerts: list[Doc]) -> bool:
        mine, other = not_ready(alerts, "worker-2:6066"), not_ready(alerts, "worker-9:6066")
        return bool(mine and other and mine["status"]["inhibitedBy"])

    alerts = wait_for(alertmanager, inhibited, "NotReady was not inhibited by WorkerDown")
    other = not_ready(alerts, "worker-9:6066")
    assert other is not None
    assert other["status"]["state"] == "active"
    assert not other["status"]["inhibitedBy"]
