"""The bridge against a real Alertmanager (Debian's prometheus-alertmanager on loopback):
labels, grouping, a silence made through its API, re-sends, and resolve setting `endsAt`."""

import shutil
import subprocess
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from alerting.sinks.alertmanager import iso
from tests.integration.bridge_harness import BridgeProcess, HookServer, produce_pages
from tests.kafka_broker import free_port
from tests.unit.alerting.pager_samples import T0, fanout, message

pytestmark = pytest.mark.integration


def alertmanager_binary() -> str:
    exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert exe, "alertmanager not found: install Debian's prometheus-alertmanager (make tools)"
    return exe


class Alertmanager:
    def __init__(self, tmp_path, receiver_url: str) -> None:
        self.port = free_port()
        config = tmp_path / "alertmanager.yml"
        config.write_text(self.config_text(receiver_url))
        self.log = tmp_path / "alertmanager.log"
        self.proc = subprocess.Popen(
            [alertmanager_binary(), f"--config.file={config}",
             f"--storage.path={tmp_path / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.get("/-/ready") is not None:
                    break
            except OSError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def config_text(self, receiver_url: str) -> str:
        return (
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n"
            "  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {receiver_url}\n"
            "        send_resolved: true\n"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def groups(self) -> list[dict[str, Any]]:
        found = self.get("/api/v2/alerts/groups")
        assert isinstance(found, list)
        return found

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            body = r.read()
            return orjson.loads(body) if body.strip().startswith((b"{", b"[")) else body

    def post(self, path: str, data):
        req = urllib.request.Request(
            self.url + path, orjson.dumps(data), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return orjson.loads(r.read())

    def alerts(self) -> dict[str, Any]:
        return {a["labels"]["dedup_key"]: a for a in self.get("/api/v2/alerts")}

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def wait_until(check, timeout_s: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def parse(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def test_alerts_labels_grouping_silence_resend_and_resolve(kafka, tmp_path):
    bursts = [message(key=f"key{i}", ip=f"203.0.113.{i}") for i in range(3)]
    fan = fanout(ip="198.51.100.77")
    keys = [m.dedup_key for m in bursts]
    with HookServer() as receiver:
        am = Alertmanager(tmp_path, receiver.url + "/am")
        tag = uuid.uuid4().hex[:8]
        pager, dlq = f"pager-{tag}", f"pager-dlq-{tag}"
        kafka.create_topic(pager, 1)
        kafka.create_topic(dlq, 1)
        cfg = tmp_path / "bridge.yaml"
        cfg.write_text(
            f"sinks:\n  - name: alertmanager\n    type: alertmanager\n    url: {am.url}\n"
            "    resend_interval: 2s\n    resolved_retention: 1m\n"
            "routes:\n  - sinks: [alertmanager]\nredact: [ip]\n"
        )
        bridge = BridgeProcess(kafka, cfg, pager, dlq, f"bridge-{tag}")
        try:
            bridge.start(tmp_path).wait_ready()
            produce_pages(kafka, pager, [*bursts, fan])
            alerts = wait_until(lambda: len(am.alerts()) == 4 and am.alerts(), what="4 alerts")

            # Labels: rule id as alertname, severity, rule labels, safe group values; the
            # redacted ip is neither a label nor anywhere in the alert.
            a = alerts[keys[0]]
            assert a["labels"]["alertname"] == "api_key_burst" == a["labels"]["rule"]
            assert a["labels"]["severity"] == "critical" and a["labels"]["team"] == "tns"
            assert a["labels"]["org_id"] == "o_1" and a["labels"]["api_key_id"] == "key0"
            assert "ip" not in a["labels"] and b"203.0.113.0" not in orjson.dumps(alerts)
            assert alerts[fan.dedup_key]["labels"]["alertname"] == "ip_account_fanout"
            assert a["annotations"]["runbook_url"] == "https://runbooks.example/api-key-burst"
            assert a["startsAt"].startswith(iso(T0 / 1000)[:19])
            assert all(x["status"]["state"] == "active" for x in alerts.values())

            # Grouping by alertname: one group of three bursts, one of the fan-out.
            groups = {
                g["labels"]["alertname"]: len(g["alerts"]) for g in am.get("/api/v2/alerts/groups")
            }
            assert groups == {"api_key_burst": 3, "ip_account_fanout": 1}
            # The receiver gets the group as one notification holding all three.
            wait_until(
                lambda: [c.body for c in receiver.calls
                         if c.body.get("groupLabels") == {"alertname": "api_key_burst"}
                         and len(c.body["alerts"]) == 3],
                what="a grouped notification",
            )  # fmt: skip

            # A silence made through Alertmanager's API suppresses that alert only.
            now = time.time()
            silence = am.post(
                "/api/v2/silences",
                {
                    "matchers": [{"name": "dedup_key", "value": keys[0], "isRegex": False,
                                  "isEqual": True}],
                    "startsAt": iso(now), "endsAt": iso(now + 3600),
                    "createdBy": "test", "comment": "known incident",
                },
            )  # fmt: skip
            wait_until(
                lambda: am.alerts()[keys[0]]["status"]["state"] == "suppressed",
                what="suppressed",
            )
            states = {k: v["status"] for k, v in am.alerts().items()}
            assert states[keys[0]]["silencedBy"] == [silence["silenceID"]]
            assert all(states[k]["state"] == "active" for k in keys[1:])

            # Re-sends keep firing alerts alive: endsAt moves forward.
            first_end = parse(am.alerts()[keys[1]]["endsAt"])
            bridge.wait_metric("signalfire_bridge_resends_total", 2, sink="alertmanager")
            wait_until(lambda: parse(am.alerts()[keys[1]]["endsAt"]) > first_end, what="re-send")

            # Resolve: endsAt is the resolve's event time; the alert leaves the active list and
            # the receiver hears it resolved.
            resolved_at = T0 + 90_000
            produce_pages(kafka, pager, [message("resolve", key="key1", ip="203.0.113.1",
                                                 at=resolved_at)])  # fmt: skip
            wait_until(lambda: keys[1] not in am.alerts(), what="resolved alert gone")
            resolved = wait_until(
                lambda: [x for c in receiver.calls if c.body.get("alerts")
                         for x in c.body["alerts"]
                         if x["status"] == "resolved" and x["labels"]["dedup_key"] == keys[1]],
                what="resolved notification",
            )  # fmt: skip
            assert parse(resolved[0]["endsAt"]) == resolved_at / 1000
            assert parse(resolved[0]["startsAt"]) == T0 / 1000
            assert set(am.alerts()) == {keys[0], keys[2], fan.dedup_key}
            assert bridge.metric("signalfire_bridge_deliveries_total", sink="alertmanager") == 5
            assert bridge.stop() == 0

            # A restarted bridge rebuilds its firing set from the pager topic and goes on
            # renewing the leases of the three alerts still firing (not the resolved one).
            before = parse(am.alerts()[keys[2]]["endsAt"])
            bridge.start(tmp_path).wait_ready()
            bridge.wait_metric("signalfire_bridge_resends_total", 1, sink="alertmanager")
            wait_until(lambda: parse(am.alerts()[keys[2]]["endsAt"]) > before, what="renewed")
            assert bridge.metric("signalfire_bridge_tracked_alerts", sink="alertmanager") == 3
            assert bridge.metric("signalfire_bridge_deliveries_total", sink="alertmanager") == 0
            assert set(am.alerts()) == {keys[0], keys[2], fan.dedup_key}
            assert bridge.stop() == 0
        finally:
            if bridge.proc and bridge.proc.poll() is None:
                bridge.kill()
            am.close()
