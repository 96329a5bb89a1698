"""Lateness after `kill -9` on a real broker: a worker killed at a chosen point while a burst
20 minutes late (in event time) is on its way pages exactly what a worker never killed pages.

Partition 0 of the input carries an org busy up to T; partition 1 an org that went quiet 25
minutes before T. Once the worker has read partition 1 it sits idle, and the worker moves its
clock to T (a wall-clock decision, committed with a watermark marker to the repartition topics).
Then a burst comes, 20 minutes behind T: 1,100 requests of one key from one IP, all 401s, from
30 accounts -- three rules would page it on time. Without a crash every rule drops it as late;
the same must hold with `kill -9` before the burst, while it is read, or after it is committed,
with no checkpoint yet or with checkpoints every second. The unit tests
(tests/unit/streams/test_crash_determinism.py) kill at exact points of a transaction; this
checks the same on Kafka itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.worker_harness import (
    Topics,
    WorkerProcess,
    copy_rules,
    read_topic,
)
from tests.kafka_broker import KafkaBroker
from tests.late_burst import BUSY, QUIET, T, burst, history
from tests.reference.wire import read_any

pytestmark = pytest.mark.integration

LATENESS = 30_000


def produce_to(
    kafka: KafkaBroker, topic: str, partition: int, events: list[dict[str, Any]]
) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=20)
        await producer.start()
        try:
            sent = [
                await producer.send(
                    topic, orjson.dumps(e), key=str(e["org_id"]).encode(), partition=partition
                )
                for e in events
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())


def committed_offset(kafka: KafkaBroker, group: str, topic: str, partition: int) -> int:
    async def fetch() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
        await admin.start()
        try:
            tp = TopicPartition(topic, partition)
            found = await admin.list_consumer_group_offsets(group, partitions=[tp])
            return int(found[tp].offset) if tp in found else -1
        finally:
            await admin.close()

    return asyncio.run(fetch())


def wait_until(condition: Callable[[], bool], what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"{what}\n{worker.log_text()}"
        time.sleep(0.3)


def quiet_moved_on(kafka: KafkaBroker, topics: Topics) -> bool:
    """A committed watermark marker says the quiet partition's clock is at T."""
    for family in ("ip", "account_id"):
        topic = f"{topics.group}.{topics.events}.by-{family}"
        for r in read_topic(kafka, topic, quiet_s=0.5, timeout_s=10):
            source, watermark, _ = read_any(r.value)
            if source == QUIET and watermark >= T - LATENESS:
                return True
    return False


def settled(worker: WorkerProcess, clocks: dict[int, int]) -> bool:
    """Every input record read, and the input partitions' clocks where they end."""
    status, body = worker.get("/readyz")
    if status != 200:
        return False
    seen = orjson.loads(body)["clock"]
    events = worker.topics.events
    lags = [
        float(line.rsplit(" ", 1)[1])
        for line in worker.get("/metrics")[1].decode().splitlines()
        if line.startswith("signalfire_consumer_lag_records{") and f'topic="{events}"' in line
    ]
    caught_up = len(lags) == len(clocks) and not any(lags)
    return caught_up and all(seen.get(f"{events}[{p}]") == now for p, now in clocks.items())


def run(
    kafka: KafkaBroker, log_dir: Path, late_on: int, checkpoint: str, kill: str | None
) -> Counter[tuple[str, str, str]]:
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=2)
    for partition, events in history().items():
        produce_to(kafka, topics.events, partition, events)
    log_dir.mkdir()
    worker = WorkerProcess(
        kafka, topics, copy_rules(log_dir / "rules"), env={"SIGNALFIRE_INSTANCE_ID": "w"}
    )
    worker.start(log_dir, checkpoint=checkpoint)
    try:
        worker.wait_ready()
        wait_until(lambda: quiet_moved_on(kafka, topics), "the quiet partition never moved", worker)
        if kill == "moved-on":
            worker.kill()
        produce_to(kafka, topics.events, late_on, burst(["org-busy", "org-quiet"][late_on]))
        if kill == "burst-in-flight":
            worker.kill()
        if kill == "burst-committed":
            end = len(history()[late_on]) + 1_100
            wait_until(
                lambda: committed_offset(kafka, topics.group, topics.events, late_on) >= end,
                "the burst was never committed", worker,
            )  # fmt: skip
            worker.kill()
        if kill is not None:
            worker.start(log_dir, checkpoint=checkpoint)
            worker.wait_ready()
        wait_until(lambda: settled(worker, {BUSY: T, QUIET: T}), "never settled", worker)
        found: Counter[tuple[str, str, str]] = Counter()
        for r in read_topic(kafka, topics.pager, quiet_s=2):
            m = orjson.loads(r.value)
            found[(m["payload"]["component"], m["event_action"], m["payload"]["timestamp"])] += 1
        return found
    finally:
        assert worker.stop() == 0, worker.log_text()


_clean: dict[int, Counter[tuple[str, str, str]]] = {}


def clean_pages(kafka: KafkaBroker, log_dir: Path, late_on: int) -> Counter[tuple[str, str, str]]:
    if late_on not in _clean:
        found = run(kafka, log_dir / "clean", late_on, "10m", None)
        # Every rule drops the burst as late; org-quiet's silence pages once its clock moved.
        assert [rule for rule, _, _ in found] == ["source_silent"], found
        _clean[late_on] = found
    return _clean[late_on]


CASES = [
    (QUIET, "10m", "moved-on"),
    (QUIET, "10m", "burst-in-flight"),
    (QUIET, "10m", "burst-committed"),
    (QUIET, "1s", "burst-in-flight"),
    (BUSY, "10m", "burst-committed"),
]


@pytest.mark.parametrize(
    ("late_on", "checkpoint", "kill"), CASES,
    ids=[f"{['busy', 'quiet'][p]}-checkpoint-{c}-{k}" for p, c, k in CASES],
)  # fmt: skip
def test_a_late_burst_pages_what_it_pages_without_kill_9(
    kafka: KafkaBroker, tmp_path: Path, late_on: int, checkpoint: str, kill: str
) -> None:
    expected = clean_pages(kafka, tmp_path, late_on)
    assert run(kafka, tmp_path / "killed", late_on, checkpoint, kill) == expected
