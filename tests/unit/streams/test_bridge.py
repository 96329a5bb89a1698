"""The bridge's commit point on an in-memory Kafka, with sinks the test holds and releases and
a clock it moves: a partition's offset is committed up to the oldest page some sink still owes,
no more often than the commit interval, and at once when the partition leaves. And what a
restarted bridge gives the sinks that keep state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from alerting.bridge_config import BridgeConfig, SinkSpec
from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import HttpRequest, HttpResponse, RetryPolicy
from alerting.pager import decode, encode
from alerting.routing import Route
from alerting.sinks.alertmanager import AlertmanagerSink
from alerting.sinks.webhook import WebhookSink
from streams.bridge import Bridge
from streams.bridge_restore import restore_read
from streams.bridge_settings import BridgeSettings
from tests.unit.alerting.pager_samples import message
from tests.unit.streams.memory_kafka import Broker, MemoryClients, Process, Wall

SINKS = {"fast": 200, "slow": 200, "refusing": 400}


class Sinks:
    """The sinks' HTTP endpoints: each answers with its status, once the test lets it."""

    def __init__(self) -> None:
        self.held: dict[str, asyncio.Event] = {}
        self.received: dict[str, list[bytes]] = {name: [] for name in SINKS}

    def hold(self, name: str) -> None:
        self.held[name] = asyncio.Event()

    def release(self, name: str) -> None:
        self.held.pop(name).set()

    async def post(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        name = request.url.removeprefix("http://").removesuffix("/")
        if name in self.held:
            await self.held[name].wait()
        self.received[name].append(request.body)
        return HttpResponse(SINKS[name])


class Harness:
    def __init__(self, routes: tuple[str, ...]) -> None:
        self.broker = Broker()
        self.broker.create_topic("pager", 1)
        self.broker.create_topic("pager.dlq", 1)
        self.sinks = Sinks()
        self.monotonic = Wall()
        config = BridgeConfig(
            sinks={
                name: SinkSpec(WebhookSink(name, f"http://{name}/"), RetryPolicy(attempts=1), None)
                for name in routes
            },
            routes=(Route(sinks=routes, match={}),),
        )
        settings = BridgeSettings(pager_dlq_topic="pager.dlq", group_id="bridge")
        metrics = BridgeMetrics.create(CollectorRegistry(), tuple(config.sinks))
        self.bridge = Bridge(
            settings, config, metrics, self.sinks, clock=lambda: 1_000.0,
            monotonic=self.monotonic, clients=MemoryClients(Process(self.broker)),
        )  # fmt: skip

    def page(self, n: int) -> None:
        for k in range(n):
            self.broker.produce("pager", 0, None, encode(message(key=f"k{k}")))

    async def poll(self, after_s: float = 1.0) -> None:
        """Let the sinks work off what they can, then one turn of the bridge `after_s` later."""
        for _ in range(50):
            await asyncio.sleep(0)
        self.monotonic.t += after_s
        await self.bridge.poll()

    def committed(self) -> int | None:
        found = self.broker.groups.get("bridge", {}).get(("pager", 0))
        return None if found is None else found.offset


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness(("fast", "slow"))
    await h.bridge.start()
    yield h
    for name in list(h.sinks.held):
        h.sinks.release(name)
    await h.bridge.stop()


async def test_the_offset_waits_for_the_slowest_sink(harness):
    h = harness
    h.sinks.hold("slow")
    h.page(5)
    await h.poll()
    await h.poll()
    assert len(h.sinks.received["fast"]) == 5 and h.sinks.received["slow"] == []
    assert h.committed() == 0  # the slow sink owes the first page
    h.sinks.release("slow")
    await h.poll()
    assert len(h.sinks.received["slow"]) == 5
    assert h.committed() == 5


async def test_commits_come_no_more_often_than_the_commit_interval(harness):
    h = harness
    h.page(2)
    await h.poll()  # queued to the sinks, and a commit: nothing delivered yet
    assert h.committed() == 0
    await h.poll()
    assert h.committed() == 2
    h.page(3)
    await h.poll(after_s=0.5)
    await h.poll(after_s=0.4)  # everything delivered, 0.9 s after the last commit
    assert h.committed() == 2
    await h.poll(after_s=0.1)
    assert h.committed() == 5


async def test_a_partition_that_leaves_commits_at_once(harness):
    h = harness
    h.page(3)
    await h.poll()
    await h.poll()
    h.page(2)
    await h.poll(after_s=0.1)
    for _ in range(50):
        await asyncio.sleep(0)
    assert h.committed() == 3
    await h.bridge.revoked([0])
    assert h.committed() == 5


async def test_a_page_refused_for_good_or_unreadable_is_dead_lettered_and_passed():
    h = Harness(("fast", "refusing"))
    await h.bridge.start()
    try:
        h.page(2)
        h.broker.produce("pager", 0, None, b"not a page")
        await h.poll()
        await h.poll()
        assert h.committed() == 3
        dead = h.broker.committed_records("pager.dlq")
        reasons = sorted(dict(r.headers)["error"] for r in dead)
        assert reasons == [
            b"not a pager message: not JSON",
            b"rejected: HTTP 400",
            b"rejected: HTTP 400",
        ]
        assert {dict(r.headers)["sink"] for r in dead} == {b"", b"refusing"}
        assert len(h.sinks.received["fast"]) == 2
    finally:
        await h.bridge.stop()


async def test_a_restart_gives_replaying_sinks_what_was_delivered_before_the_commit():
    broker = Broker()
    broker.create_topic("pager", 1)
    pages = [message(key="k0"), message(key="k1"), message("resolve", key="k1"),
             message(key="k2")]  # fmt: skip
    for page in pages:
        broker.produce("pager", 0, None, encode(page))
    broker.produce("pager", 0, None, b"not a page")
    clients = MemoryClients(Process(broker))
    group = clients.consumer(group_id="bridge")
    await group.commit({TopicPartition("pager", 0): 3})  # k2 is still to be delivered
    am = AlertmanagerSink("am", "http://am/", 60.0, 300.0)
    config = BridgeConfig(
        sinks={"am": SinkSpec(am, RetryPolicy(attempts=1), None)},
        routes=(Route(sinks=("am",), match={}),),
    )
    await restore_read(
        clients,
        {},
        topic="pager",
        group_id="bridge",
        config=config,
        sinks={"am": am},
        incidents=None,
    )
    assert am.tracked() == 1  # k0 still firing; k1 resolved; k2 not committed yet


async def test_a_shadow_rules_page_is_never_delivered():
    h = Harness(("fast",))
    await h.bridge.start()
    try:
        live = message(key="k0")
        rule = replace(live.payload.custom_details.rule, mode="shadow")
        details = replace(live.payload.custom_details, rule=rule)
        shadow = replace(live, payload=replace(live.payload, custom_details=details))
        h.broker.produce("pager", 0, None, encode(shadow))
        h.page(1)
        await h.poll()
        await h.poll()
        assert h.committed() == 2
        assert [decode(b).dedup_key for b in h.sinks.received["fast"]] == [live.dedup_key]
        [dead] = h.broker.committed_records("pager.dlq")
        assert dict(dead.headers)["error"] == b"a shadow rule's page: never delivered to on-call"
    finally:
        await h.bridge.stop()
