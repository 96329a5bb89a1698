"""A snooze set in the console reaches a live worker on real Kafka: its next trigger is kept
from the pager topic (written to the shadow topic), and once the snooze has ended the group
pages again."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from alerting.console.app import make_app
from alerting.console.auth import Role, User, hash_password
from alerting.console.config import ConsoleConfig
from alerting.store import open_store
from streams.clients import KafkaClients
from streams.control import ControlWriter
from tests.integration.worker_harness import BUSY_ORG, Topics, WorkerProcess, produce, read_topic
from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration


def burst(org: str, start_ms: int) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{org}-{start_ms + i}", "ts": start_ms + i * 1000, "org_id": org}
        for i in range(5)
    ]


async def snooze_in_console(
    kafka: KafkaBroker, control_topic: str, store_url: str, span: str
) -> None:
    """An investigator logs in and snoozes org o_1 for `span`, through the console's forms."""
    writer = ControlWriter(KafkaClients(), {"bootstrap_servers": kafka.bootstrap}, control_topic)
    await writer.start()
    users = {"ivy": User("ivy", Role.investigator, hash_password("ivy-password"))}
    app = make_app(ConsoleConfig(store_url, users), open_store(store_url), writer.publish)
    try:
        async with TestClient(TestServer(app)) as client:
            form = await (await client.get("/login")).text()
            token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            login = await client.post(
                "/login", data={"name": "ivy", "password": "ivy-password", "csrf": token}
            )
            html = await login.text()
            csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            done = await client.post(
                "/entities/org_id/o_1/snooze",
                data={"csrf": csrf, "for": span, "reason": "customer load test"},
            )
            assert done.status == 200, await done.text()
    finally:
        await writer.stop()


def actions(records: list[Any]) -> list[tuple[str, str]]:
    out = []
    for r in records:
        body = orjson.loads(r.value)
        out.append((body["event_action"], body["payload"]["custom_details"]["group"]["org_id"]))
    return out


def wait_for(kafka: KafkaBroker, topic: str, count: int, timeout_s: float = 90) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    records: list[Any] = []
    while time.monotonic() < deadline:
        records = read_topic(kafka, topic, quiet_s=1.5, timeout_s=10)
        if len(records) >= count:
            return records
    return records


def test_a_console_snooze_holds_the_next_page_until_it_ends(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    topics = Topics.fresh()
    tag = uuid.uuid4().hex[:8]
    control, shadow = f"control-{tag}", f"shadow-{tag}"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "busy_org.yaml").write_text(BUSY_ORG)
    env = {"SIGNALFIRE_CONTROL_TOPIC": control, "SIGNALFIRE_SHADOW_TOPIC": shadow}
    worker = WorkerProcess(kafka, topics, rules, env=env).start(tmp_path)
    try:
        worker.wait_ready()
        store_url = f"sqlite:///{tmp_path / 'pages.db'}"
        asyncio.run(snooze_in_console(kafka, control, store_url, "10m"))
        worker.wait_metric("signalfire_snoozes_active", 1)
        now = int(time.time() * 1000)
        produce(kafka, topics.events, burst("o_1", now) + burst("o_2", now))
        held = wait_for(kafka, shadow, 1)
        assert actions(held) == [("trigger", "o_1")]
        assert dict(held[0].headers)["signalfire-held"] == b"snoozed"
        assert actions(wait_for(kafka, topics.pager, 1)) == [("trigger", "o_2")]
        assert worker.metric('signalfire_pages_snoozed_total{rule="busy_org"}') == 1
        # Event time past the snooze's end: both episodes resolve (a resolve always goes
        # through, the held one's too) and o_1's next episode pages.
        later = now + 30 * 60_000
        produce(kafka, topics.events, burst("o_1", later))
        paged = wait_for(kafka, topics.pager, 4)
        assert sorted(actions(paged)) == [
            ("resolve", "o_1"), ("resolve", "o_2"), ("trigger", "o_1"), ("trigger", "o_2")
        ]  # fmt: skip
        assert actions(read_topic(kafka, shadow, quiet_s=1)) == [("trigger", "o_1")]
    finally:
        worker.stop()
