"""Snoozes in the worker: read from the control topic at start and while it runs, a covered
trigger kept from the pager topic (written to the shadow topic, marked), resolves let through,
pages again once the snooze has ended."""

from __future__ import annotations

from pathlib import Path

import orjson

from alerting.message import dedup_key
from alerting.snooze import Entity, Snooze, encode
from tests.unit.streams.memory_kafka import Broker
from tests.unit.streams.test_pipeline import EVENTS, Worker, produce, requests, rules_dir

__all__ = ["rules_dir"]  # the fixture, shared with the pipeline tests

CONTROL = "signalfire.control"


def snooze(broker: Broker, s: Snooze) -> None:
    broker.create_topic(CONTROL, 1, {"cleanup.policy": "compact"})
    broker.produce(CONTROL, 0, s.key.encode(), encode(s))


def lift(broker: Broker, s: Snooze) -> None:
    broker.produce(CONTROL, 0, s.key.encode(), None)


def pages(broker: Broker, topic: str = "pager") -> list[tuple[str, str, str]]:
    out = []
    for r in broker.committed_records(topic):
        body = orjson.loads(r.value or b"")
        group = body["payload"]["custom_details"]["group"]["org_id"]
        out.append((body["event_action"], group, body["payload"]["timestamp"][11:19]))
    return out


def org_snooze(org: str, until: int) -> Snooze:
    return Snooze(until, "customer load test", "alice", 0, entity=Entity("org_id", org))


async def started(broker: Broker, rules_dir: Path) -> Worker:
    broker.create_topic(EVENTS, 1)
    worker = Worker(broker, rules_dir)
    await worker.pipeline.start()
    return worker


async def test_a_snoozed_trigger_goes_to_the_shadow_topic_and_its_resolve_to_on_call(
    rules_dir: Path,
) -> None:
    broker = Broker()
    snooze(broker, org_snooze("o_1", until=100_000))
    worker = await started(broker, rules_dir)
    produce(broker, 0, requests("o_1", 0, 5) + requests("o_2", 0, 5))
    await worker.poll(3)
    assert pages(broker) == [("trigger", "o_2", "00:00:04")]
    assert pages(broker, "pager.shadow") == [("trigger", "o_1", "00:00:03")]
    [held] = broker.committed_records("pager.shadow")
    headers = dict(held.headers)
    assert headers["signalfire-held"] == b"snoozed"
    assert headers["signalfire-snooze"] == org_snooze("o_1", 0).key.encode()
    details = orjson.loads(held.value or b"")["payload"]["custom_details"]
    assert details["snooze"] == {
        "key": org_snooze("o_1", 0).key,
        "until": "1970-01-01T00:01:40.000Z",
    }
    assert worker.metric("pages_snoozed_total", rule="busy_org") == 1
    assert worker.metric("snoozes_active") == 1
    # After the snooze: the open episode's resolve is sent (5m after the burst), and a new
    # episode pages.
    produce(broker, 0, requests("o_1", 600_000, 5))
    await worker.poll(3)
    assert [p for p in pages(broker) if p[1] == "o_1"] == [
        ("resolve", "o_1", "00:06:02"),
        ("trigger", "o_1", "00:10:03"),
    ]


async def test_a_snooze_set_while_running_holds_the_next_trigger_and_a_tombstone_lifts_it(
    rules_dir: Path,
) -> None:
    broker = Broker()
    broker.create_topic(CONTROL, 1, {"cleanup.policy": "compact"})
    worker = await started(broker, rules_dir)
    group = dedup_key("busy_org", (("org_id", "o_1"),))
    by_group = Snooze(10**13, "noisy tenant", "bob", 0, dedup_key=group, rule_id="busy_org")
    snooze(broker, by_group)
    await worker.poll()
    assert worker.metric("snoozes_active") == 1
    produce(broker, 0, requests("o_1", 0, 5))
    await worker.poll(3)
    assert pages(broker) == []
    assert pages(broker, "pager.shadow") == [("trigger", "o_1", "00:00:03")]
    lift(broker, by_group)
    produce(broker, 0, requests("o_1", 600_000, 5))  # the episode ends, a new one starts
    await worker.poll(3)
    assert worker.metric("snoozes_active") == 0
    assert pages(broker) == [("resolve", "o_1", "00:06:02"), ("trigger", "o_1", "00:10:03")]


async def test_a_restarted_worker_reads_the_snoozes_before_it_consumes(rules_dir: Path) -> None:
    broker = Broker()
    snooze(broker, org_snooze("o_1", until=10**13))
    broker.produce(CONTROL, 0, b"snooze/garbage", b"{not json")  # skipped, named in the log
    broker.create_topic(EVENTS, 1)
    produce(broker, 0, requests("o_1", 0, 5))  # already there when the worker starts
    worker = await started(broker, rules_dir)
    await worker.poll(3)
    assert pages(broker) == []
    assert len(pages(broker, "pager.shadow")) == 1
    assert worker.pipeline.control.rejected == 1


async def test_control_and_shadow_topics_are_created(rules_dir: Path) -> None:
    broker = Broker()
    await started(broker, rules_dir)
    assert broker.topics[CONTROL] == 1
    assert broker.configs[CONTROL]["cleanup.policy"] == "compact"
    assert broker.topics["pager.shadow"] == broker.topics[EVENTS]
