"""The bridge with incidents, on an in-memory Kafka: every page goes out with its incident,
PagerDuty hears of incidents (one alert per incident, its resolve once every page resolved),
and a restarted bridge rebuilds its incidents from the records before its commit point, so
ids and decisions carry on as if it had never stopped."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from alerting.bridge_config import BridgeConfig, IncidentSettings, SinkSpec
from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import HttpRequest, HttpResponse, RetryPolicy
from alerting.message import pager_message
from alerting.pager import PagerMessage, encode, record_key
from alerting.routing import Route
from alerting.sinks.pagerduty import PagerDutySink
from alerting.sinks.webhook import WebhookSink
from signalfire.engine.alert import Alert, Evidence
from streams.bridge import Bridge
from streams.bridge_settings import BridgeSettings
from tests.unit.helpers import rule
from tests.unit.streams.memory_kafka import Broker, MemoryClients, Process, Wall

PER_KEY = rule("""\
id: per_key
title: key burst
severity: critical
group_by: [org_id, api_key_id]
detect: {type: threshold, window: 60s, threshold: 10}
""")
PER_ORG = rule("""\
id: per_org
title: org surge
severity: critical
group_by: [org_id]
detect: {type: threshold, window: 60s, threshold: 10}
""")
T0 = 1_795_420_800_000
MIN = 60_000


def page(action: str, at: int, org: str = "o1", key: str | None = "k1") -> PagerMessage:
    r = PER_KEY if key is not None else PER_ORG
    group: tuple[tuple[str, Any], ...] = (("org_id", org),)
    if key is not None:
        group += (("api_key_id", key),)
    alert = Alert(r.id, action, group, at, Evidence(value=11))  # type: ignore[arg-type]
    return pager_message(r, alert)


class Endpoints:
    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"hook": [], "pd": []}

    async def post(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        name = request.url.removeprefix("http://").removesuffix("/")
        self.received[name].append(orjson.loads(request.body))
        return HttpResponse(202)


class Harness:
    def __init__(self, broker: Broker | None = None, endpoints: Endpoints | None = None) -> None:
        self.broker = broker or Broker()
        if broker is None:
            self.broker.create_topic("pager", 2)
            self.broker.create_topic("pager.dlq", 1)
        self.endpoints = endpoints or Endpoints()
        hook = WebhookSink("hook", "http://hook/")
        pd = PagerDutySink("pd", "http://pd/", "routing-key")
        config = BridgeConfig(
            sinks={s.name: SinkSpec(s, RetryPolicy(attempts=1), None) for s in (hook, pd)},
            routes=(Route(sinks=("hook", "pd"), match={}),),
            incidents=IncidentSettings(window_ms=30 * MIN),
        )
        settings = BridgeSettings(pager_dlq_topic="pager.dlq", group_id="bridge")
        self.registry = CollectorRegistry()
        metrics = BridgeMetrics.create(self.registry, tuple(config.sinks))
        self.monotonic = Wall()
        self.bridge = Bridge(
            settings, config, metrics, self.endpoints, clock=lambda: 1_000.0,
            monotonic=self.monotonic, clients=MemoryClients(Process(self.broker)),
        )  # fmt: skip

    def send(self, *messages: PagerMessage) -> None:
        """As the worker writes them: keyed by root, so one root is one partition."""
        for m in messages:
            partition = 0 if m.payload.custom_details.group["org_id"] == "o1" else 1
            assert record_key(m) == m.payload.custom_details.entities[0].ref.encode()
            self.broker.produce("pager", partition, record_key(m), encode(m))

    async def turn(self) -> None:
        for _ in range(3):
            for _ in range(50):
                await asyncio.sleep(0)
            self.monotonic.t += 10.0
            await self.bridge.poll()

    def hook(self) -> list[tuple[str, str, str, int, int]]:
        """(dedup key, action, incident status, pages, firing) of each page the webhook got."""
        out = []
        for body in self.endpoints.received["hook"]:
            incident = body["payload"]["custom_details"]["incident"]
            out.append(
                (
                    body["dedup_key"],
                    body["event_action"],
                    incident["status"],
                    incident["pages"],
                    incident["firing"],
                )
            )
        return out

    def incident_ids(self) -> list[str]:
        return [
            b["payload"]["custom_details"]["incident"]["id"]
            for b in self.endpoints.received["hook"]
        ]

    def counted(self, outcome: str) -> float:
        value = self.registry.get_sample_value(
            "signalfire_bridge_incident_pages_total", {"outcome": outcome}
        )
        return value or 0.0


async def test_pages_of_one_org_are_one_incident_and_pagerduty_hears_of_the_incident() -> None:
    h = Harness()
    await h.bridge.start()
    try:
        k1, k2 = page("trigger", T0, key="k1"), page("trigger", T0 + MIN, key="k2")
        other = page("trigger", T0 + MIN, org="o2")
        h.send(k1, k2, other)
        await h.turn()
        h.send(page("resolve", T0 + 5 * MIN, key="k1"))
        await h.turn()
        h.send(page("resolve", T0 + 6 * MIN, key="k2"))
        await h.turn()
        assert h.hook() == [
            (k1.dedup_key, "trigger", "opened", 1, 1),
            (k2.dedup_key, "trigger", "joined", 2, 2),
            (other.dedup_key, "trigger", "opened", 1, 1),
            (k1.dedup_key, "resolve", "page_resolved", 2, 1),  # k2 still fires
            (k2.dedup_key, "resolve", "resolved", 2, 0),
        ]
        ids = h.incident_ids()
        assert ids[0] == ids[1] == ids[3] == ids[4] != ids[2]  # two orgs never share one
        pd = [(e["dedup_key"], e["event_action"]) for e in h.endpoints.received["pd"]]
        # one alert per incident; the page resolve that leaves the incident firing is not sent
        assert sorted(pd) == sorted(
            [(ids[0], "trigger"), (ids[0], "trigger"), (ids[2], "trigger"), (ids[0], "resolve")]
        )
        assert all(e["routing_key"] == "routing-key" for e in h.endpoints.received["pd"])
        assert h.counted("opened") == 2 and h.counted("joined") == 1
        assert h.counted("page_resolved") == 1 and h.counted("resolved") == 1
    finally:
        await h.bridge.stop()


async def test_a_child_page_is_absorbed_while_its_parent_fires_however_late() -> None:
    h = Harness()
    await h.bridge.start()
    try:
        org = page("trigger", T0, key=None)
        late_key = page("trigger", T0 + 3 * 3_600_000, key="k9")  # hours later, past the window
        h.send(org, late_key)
        await h.turn()
        body = h.endpoints.received["hook"][1]["payload"]["custom_details"]["incident"]
        assert body["status"] == "absorbed" and body["absorbed_by"] == org.dedup_key
        assert body["root"]["name"] == "org_id" and body["root"]["value"] == "o1"
        assert h.counted("absorbed") == 1
    finally:
        await h.bridge.stop()


async def test_a_restarted_bridge_keeps_incident_ids_and_carries_on() -> None:
    first = Harness()
    await first.bridge.start()
    k1 = page("trigger", T0, key="k1")
    first.send(k1, page("trigger", T0 + MIN, org="o2"))
    await first.turn()
    await first.bridge.stop()
    (opened, _) = first.incident_ids()

    again = Harness(first.broker)
    await again.bridge.start()
    try:
        again.send(page("trigger", T0 + 2 * MIN, key="k2"), page("resolve", T0 + 3 * MIN, key="k1"))
        await again.turn()
        assert again.incident_ids() == [opened, opened]
        assert [s for _, _, s, _, _ in again.hook()] == ["joined", "page_resolved"]
        # what it re-read was not counted again
        assert again.counted("opened") == 0
    finally:
        await again.bridge.stop()


async def test_a_page_with_a_timestamp_that_is_no_time_is_dead_lettered() -> None:
    h = Harness()
    await h.bridge.start()
    try:
        bad = page("trigger", T0)
        raw = encode(bad).replace(b'"timestamp":"2026', b'"timestamp":"x026')
        h.broker.produce("pager", 0, record_key(bad), raw)
        await h.turn()
        (dead,) = h.broker.committed_records("pager.dlq")
        assert dict(dead.headers)["error"].startswith(b"not a pager message: payload.timestamp")
        assert h.endpoints.received["hook"] == []
        assert dead.value == raw
    finally:
        await h.bridge.stop()
