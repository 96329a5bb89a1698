"""A 10 MB record through a real worker on a real broker: dead-lettered on its size, byte for
byte, and the worker goes on with the records after it."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.faults.figures import Figures, record
from tests.integration.worker_harness import (
    Topics,
    WorkerProcess,
    copy_rules,
    read_topic,
    wait_for_pages,
)
from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration

MB = 1 << 20
TOPIC_LIMIT = 16 * MB  # the topics and the producer must take the record at all
TS = 1_795_392_000_000


def event(n: int, **extra: object) -> bytes:
    fields = {"event_id": f"e{n}", "ts": TS + n, "org_id": "o1", "account_id": "a1"}
    return orjson.dumps({**fields, **extra})


async def send(kafka: KafkaBroker, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, max_request_size=TOPIC_LIMIT, acks="all"
    )
    await producer.start()
    try:
        for value in values:  # one at a time: their order is part of the test
            await producer.send_and_wait(topic, value, key=b"o1", partition=0)
    finally:
        await producer.stop()


def test_10mb_record_is_dead_lettered_unparsed_and_the_worker_goes_on(kafka, tmp_path):
    topics = Topics.fresh()
    limit = {"max.message.bytes": str(TOPIC_LIMIT)}
    kafka.create_topic(topics.events, partitions=1, config=limit)
    kafka.create_topic(topics.dlq, partitions=1, config=limit)
    # A valid event (it would decode if parsed) of 10 MB: the default limit is 1 MB.
    big = event(1, pad="x" * (10 * MB))
    flagged = event(3, flagged=True, categories=["sexual/minors"])  # child_safety_flag pages
    values = [event(0), big, b"{broken", flagged]

    worker = WorkerProcess(kafka, topics, copy_rules(tmp_path / "rules")).start(tmp_path)
    try:
        worker.wait_ready()
        asyncio.run(send(kafka, topics.events, values))
        pages = wait_for_pages(kafka, topics.pager, 1, timeout_s=90)
        assert [p["payload"]["component"] for p in pages] == ["child_safety_flag"], (
            worker.log_text()
        )
        assert pages[0]["payload"]["custom_details"]["evidence"]["sample_event_ids"] == ["e3"]

        dead = read_topic(kafka, topics.dlq)
        assert [r.value for r in dead] == [big, b"{broken"]
        too_large, broken = (dict(r.headers) for r in dead)
        assert too_large["error"] == f"record too large: {len(big)} bytes > 1000000".encode()
        assert too_large["source_topic"] == topics.events.encode()
        assert too_large["source_partition"] == b"0" and too_large["source_offset"] == b"1"
        assert broken["error"].startswith(b"not valid JSON") and broken["source_offset"] == b"2"
        assert all(r.key == b"o1" for r in dead)

        record("10 MB record and a broken one", Figures(2, 1, len(pages), 0, 0, len(dead), 0))
        text = worker.get("/metrics")[1].decode()
        assert 'signalfire_events_dead_lettered_total{reason="oversized"} 1.0' in text
        assert 'signalfire_events_dead_lettered_total{reason="not_json"} 1.0' in text
        assert worker.get("/healthz")[0] == 200
    finally:
        assert worker.stop() == 0, worker.log_text()


def test_a_dead_letter_too_large_for_an_existing_dlq_topic_keeps_its_headers(kafka, tmp_path):
    """The DLQ topic was made elsewhere with Kafka's 1 MB default: the record cannot be copied
    there, so its dead letter carries the headers that point at it, and nothing stalls."""
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=1, config={"max.message.bytes": str(TOPIC_LIMIT)})
    kafka.create_topic(topics.dlq, partitions=1)  # default limit
    big = event(1, pad="y" * (3 * MB))
    flagged = event(2, flagged=True, categories=["sexual/minors"])
    worker = WorkerProcess(kafka, topics, copy_rules(tmp_path / "rules")).start(tmp_path)
    try:
        worker.wait_ready()
        asyncio.run(send(kafka, topics.events, [event(0), big, flagged]))
        pages = wait_for_pages(kafka, topics.pager, 1, timeout_s=90)
        assert [p["payload"]["component"] for p in pages] == ["child_safety_flag"]
        [dead] = read_topic(kafka, topics.dlq)
        record("record too large for the DLQ topic", Figures(1, 1, len(pages), 0, 0, 1, 0))
        headers = dict(dead.headers)
        assert dead.value == b"" and headers["value_omitted_bytes"] == str(len(big)).encode()
        assert headers["source_offset"] == b"1" and headers["error"].startswith(b"record too large")
    finally:
        assert worker.stop() == 0, worker.log_text()
