"""`signalfire bridge` on real Kafka against local HTTP sinks answering 202, 400, 429, 500 and
stalling: retry counts, dead letters, signatures, nothing lost, nothing delivered twice."""

import asyncio
import uuid
from collections import Counter

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.integration.bridge_harness import STALL, BridgeProcess, HookServer, produce_pages
from tests.integration.worker_harness import read_topic
from tests.unit.alerting.pager_samples import fanout, message

pytestmark = pytest.mark.integration

PD_KEY = "R0UT1NGKEYFORTESTS00000000000000"
SECRET = "hook-secret-for-tests"
FAST_RETRY = "    timeout: 1s\n    retry: {initial: 50ms, max: 200ms, attempts: 5}\n"


def config(pd_url: str, hook_url: str, pd_retry: str = FAST_RETRY) -> str:
    return (
        "sinks:\n"
        f"  - name: pagerduty\n    type: pagerduty\n    url: {pd_url}\n"
        f"    routing_key_env: TEST_PD_KEY\n{pd_retry}"
        f"  - name: hook\n    type: webhook\n    url: {hook_url}\n"
        f"    hmac_secret_env: TEST_HOOK_SECRET\n{FAST_RETRY}"
        "routes:\n"
        "  - match: {severity: critical}\n    sinks: [pagerduty]\n    continue: true\n"
        "  - sinks: [hook]\n"
    )


def bridge_for(kafka, tmp_path, text):
    tag = uuid.uuid4().hex[:8]
    pager, dlq = f"pager-{tag}", f"pager-dlq-{tag}"
    kafka.create_topic(pager, 2)
    kafka.create_topic(dlq, 1)
    path = tmp_path / "bridge.yaml"
    path.write_text(text)
    env = {"TEST_PD_KEY": PD_KEY, "TEST_HOOK_SECRET": SECRET}
    return BridgeProcess(kafka, path, pager, dlq, f"bridge-{tag}", env)


def committed_to_end(kafka, topic, group) -> bool:
    async def check() -> bool:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(2)]
            ends = await consumer.end_offsets(tps)
            committed = {tp: await consumer.committed(tp) or 0 for tp in tps}
            return bool(committed == ends)
        finally:
            await consumer.stop()

    return asyncio.run(check())


def test_retries_dead_letters_and_exactly_one_delivery(kafka, tmp_path):
    critical = [message(key=f"k{i}") for i in range(8)]
    keys = [m.dedup_key for m in critical]
    warnings = [fanout(ip=f"203.0.113.{i}") for i in range(2)]
    with HookServer(stall_s=3) as pd, HookServer(secret=SECRET.encode()) as hook:
        pd.script.update(
            {
                keys[1]: [400],
                keys[2]: [429, 429, 202],
                keys[3]: [500, 502, 503, 202],
                keys[4]: [STALL, 202],
                keys[5]: [500] * 5,
            }
        )
        hook.script[keys[6]] = [500, 202]
        bridge = bridge_for(kafka, tmp_path, config(pd.url + "/pd", hook.url + "/hook"))
        bridge.start(tmp_path).wait_ready()
        try:
            produce_pages(kafka, bridge.pager_topic, [*critical, b"{not json", *warnings])
            hook.wait_accepted(10)
            bridge.wait_metric("signalfire_bridge_dead_lettered_total", 3)
            bridge.wait_metric("signalfire_bridge_deliveries_total", 6, sink="pagerduty")

            requests = Counter(c.key for c in pd.calls)
            assert [requests[k] for k in keys] == [1, 1, 3, 4, 2, 5, 1, 1]
            delivered = Counter(c.key for c in pd.accepted())
            assert delivered == Counter({k: 1 for i, k in enumerate(keys) if i not in (1, 5)})
            assert all(c.body["routing_key"] == PD_KEY for c in pd.calls)

            hooked = Counter(c.key for c in hook.accepted())
            assert hooked == Counter(m.dedup_key for m in [*critical, *warnings])
            assert all(c.signed for c in hook.calls)

            assert bridge.metric("signalfire_bridge_retries_total", sink="pagerduty") == 10
            assert bridge.metric("signalfire_bridge_retries_total", sink="hook") == 1
            failures = "signalfire_bridge_failures_total"
            assert bridge.metric(failures, sink="pagerduty", outcome="rejected") == 1
            assert bridge.metric(failures, sink="pagerduty", outcome="exhausted") == 1
            assert bridge.metric("signalfire_bridge_deliveries_total", sink="hook") == 10
            assert bridge.metric("signalfire_bridge_invalid_total") == 1

            dead = read_topic(kafka, bridge.dlq_topic, quiet_s=2)
            by_error = {
                dict(r.headers)["error"].decode().split(":")[0]: (r, dict(r.headers)) for r in dead
            }
            assert set(by_error) == {"rejected", "exhausted", "not a pager message"}
            rejected, h = by_error["rejected"]
            assert h["sink"] == b"pagerduty" and b"HTTP 400" in h["error"]
            assert orjson.loads(rejected.value)["dedup_key"] == keys[1]
            assert orjson.loads(by_error["exhausted"][0].value)["dedup_key"] == keys[5]
            assert by_error["not a pager message"][0].value == b"{not json"
            assert PD_KEY.encode() not in b"".join(r.value for r in dead)

            bridge.wait_metric("signalfire_bridge_consumed_total", 11)
            assert bridge.stop() == 0
            assert committed_to_end(kafka, bridge.pager_topic, bridge.group)
            assert PD_KEY not in bridge.log_text() and SECRET not in bridge.log_text()
        finally:
            if bridge.proc and bridge.proc.poll() is None:
                bridge.kill()


def test_a_down_sink_blocks_neither_the_others_nor_loses_its_pages(kafka, tmp_path):
    """PagerDuty unreachable: the webhook still gets everything; the offset is not committed
    past what PagerDuty owes, so the next bridge, with PagerDuty back, delivers all of it."""
    critical = [message(key=f"down{i}") for i in range(5)]
    keys = {m.dedup_key for m in critical}
    slow_retry = "    timeout: 1s\n    retry: {initial: 200ms, max: 1s, attempts: 100}\n"
    with HookServer() as pd, HookServer(secret=SECRET.encode()) as hook:
        pd.default = 503  # down: every answer is a 503
        bridge = bridge_for(kafka, tmp_path, config(pd.url + "/pd", hook.url + "/hook", slow_retry))
        bridge.start(tmp_path).wait_ready()
        try:
            produce_pages(kafka, bridge.pager_topic, critical)
            hook.wait_accepted(5)
            assert {c.key for c in hook.accepted()} == keys
            bridge.wait_metric("signalfire_bridge_retries_total", 3, sink="pagerduty")
            assert bridge.metric("signalfire_bridge_pending", sink="pagerduty") >= 1
            assert not pd.accepted()
            assert bridge.stop() == 0
            assert not committed_to_end(kafka, bridge.pager_topic, bridge.group)

            pd.default = 202  # PagerDuty is back
            bridge.start(tmp_path).wait_ready()
            pd.wait_accepted(5)
            bridge.wait_metric("signalfire_bridge_deliveries_total", 5, sink="pagerduty")
            assert {c.key for c in pd.accepted()} == keys
            assert bridge.stop() == 0
            assert committed_to_end(kafka, bridge.pager_topic, bridge.group)
        finally:
            if bridge.proc and bridge.proc.poll() is None:
                bridge.kill()
