"""Incidents through the real bridge, on a real broker, into a real Alertmanager (Debian's
prometheus-alertmanager) grouping by the incident label and a PagerDuty endpoint on loopback:
one PagerDuty alert and one Alertmanager notification per incident, and a restarted bridge
that carries the same incidents on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from alerting.message import pager_message
from alerting.pager import PagerMessage
from signalfire.engine.alert import Alert, Evidence
from tests.integration.bridge_harness import BridgeProcess, HookServer, produce_pages
from tests.integration.test_bridge_alertmanager import Alertmanager, wait_until
from tests.unit.helpers import rule

pytestmark = pytest.mark.integration

PER_KEY = rule("""\
id: key_burst
title: key burst
severity: critical
labels: {team: tns}
group_by: [org_id, api_key_id]
detect: {type: threshold, window: 60s, threshold: 10}
""")
T0 = 1_795_420_800_000
MIN = 60_000


def page(action: str, at: int, org: str, key: str) -> PagerMessage:
    group = (("org_id", org), ("api_key_id", key))
    alert = Alert(PER_KEY.id, action, group, at, Evidence(value=11))  # type: ignore[arg-type]
    return pager_message(PER_KEY, alert)


class GroupingAlertmanager(Alertmanager):
    """Alertmanager routing as the shipped config does for detections: grouped by incident."""

    def config_text(self, receiver_url: str) -> str:
        return (
            "route:\n  receiver: hook\n  group_by: [incident]\n  group_wait: 1s\n"
            "  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {receiver_url}\n"
            "        send_resolved: true\n"
        )


def pd_events(hook: HookServer) -> list[tuple[str, str, str]]:
    """(dedup key, action, the incident the page carries) of each event PagerDuty accepted."""
    return [
        (c.key, c.action, c.body["payload"]["custom_details"]["incident"]["id"])
        for c in hook.accepted("/pd")
    ]


def incident_of(alert: dict[str, Any]) -> str:
    return str(alert["labels"]["incident"])


def test_one_pagerduty_alert_and_one_alertmanager_group_per_incident_across_a_restart(
    kafka, tmp_path
):
    k1, k2, other = (
        page("trigger", T0, "o1", "k1"),
        page("trigger", T0 + MIN, "o1", "k2"),
        page("trigger", T0 + MIN, "o2", "k1"),
    )
    with HookServer() as hook:
        am = GroupingAlertmanager(tmp_path, hook.url + "/am")
        tag = uuid.uuid4().hex[:8]
        pager, dlq = f"pager-{tag}", f"pager-dlq-{tag}"
        kafka.create_topic(pager, 2)
        kafka.create_topic(dlq, 1)
        cfg = tmp_path / "bridge.yaml"
        cfg.write_text(
            f"sinks:\n  - name: alertmanager\n    type: alertmanager\n    url: {am.url}\n"
            f"  - name: pagerduty\n    type: pagerduty\n    url: {hook.url}/pd\n"
            "    routing_key_env: TEST_ROUTING_KEY\n"
            "routes:\n  - sinks: [alertmanager, pagerduty]\n"
            "incidents: {window: 30m}\n"
        )
        env = {"TEST_ROUTING_KEY": "test-routing-key"}
        bridge = BridgeProcess(kafka, cfg, pager, dlq, f"bridge-{tag}", env=env)
        try:
            bridge.start(tmp_path).wait_ready()
            produce_pages(kafka, pager, [k1, k2, other])
            hook.wait_accepted(3, path="/pd")
            alerts = wait_until(lambda: len(am.alerts()) == 3 and am.alerts(), what="3 alerts")
            o1 = incident_of(alerts[k1.dedup_key])
            o2 = incident_of(alerts[other.dedup_key])
            assert incident_of(alerts[k2.dedup_key]) == o1 != o2
            assert all(a["labels"]["incident_root"] == "org_id" for a in alerts.values())
            # PagerDuty: one alert per incident (the second page of o1 joins it)
            assert sorted((key, action) for key, action, _ in pd_events(hook)) == sorted(
                [(o1, "trigger"), (o1, "trigger"), (o2, "trigger")]
            )
            # Alertmanager: one group, one notification, per incident
            groups = {g["labels"]["incident"]: len(g["alerts"]) for g in am.groups()}
            assert groups == {o1: 2, o2: 1}
            wait_until(
                lambda: [c for c in hook.calls if c.path == "/am"
                         and c.body.get("groupLabels") == {"incident": o1}
                         and len(c.body["alerts"]) == 2],
                what="one notification holding both pages of o1",
            )  # fmt: skip
            assert bridge.metric("signalfire_bridge_incident_pages_total", outcome="opened") == 2
            assert bridge.stop() == 0

            # While the bridge is down: k1 resolves and a third key of o1 fires.
            k3 = page("trigger", T0 + 6 * MIN, "o1", "k3")
            produce_pages(kafka, pager, [page("resolve", T0 + 5 * MIN, "o1", "k1"), k3])
            bridge.start(tmp_path).wait_ready()
            hook.wait_accepted(4, path="/pd")
            # the restarted bridge knows o1's incident: k3 joins it, k1's resolve is not sent
            assert pd_events(hook)[3][:2] == (o1, "trigger")
            wait_until(lambda: k3.dedup_key in am.alerts(), what="k3 in Alertmanager")
            assert incident_of(am.alerts()[k3.dedup_key]) == o1
            assert bridge.metric("signalfire_bridge_incident_pages_total", outcome="opened") == 0

            # The last pages resolve: PagerDuty hears the incident resolve once.
            produce_pages(
                kafka,
                pager,
                [
                    page("resolve", T0 + 7 * MIN, "o1", "k2"),
                    page("resolve", T0 + 8 * MIN, "o1", "k3"),
                ],
            )
            hook.wait_accepted(5, path="/pd")
            assert pd_events(hook)[4][:2] == (o1, "resolve")
            wait_until(lambda: set(am.alerts()) == {other.dedup_key}, what="o1's alerts resolved")
            assert bridge.metric("signalfire_bridge_incident_pages_total", outcome="resolved") == 1
            assert bridge.stop() == 0
        finally:
            if bridge.proc and bridge.proc.poll() is None:
                bridge.kill()
            am.close()
