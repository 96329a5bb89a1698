"""The local Kafka behind `make kafka-up` and the `kafka` fixture: a real broker, end to end.

Keyed produce -> consumer-group consume, and transactional isolation (what the pager topic's
readers rely on with `isolation_level="read_committed"`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from tests.kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration

RECORDS = 1000
PARTITIONS = 4
ORGS = [f"o_{i:02d}" for i in range(25)]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def consume_to_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], timeout_s: float = 30
) -> list[Any]:
    """Read every partition up to its end offset as seen now (the LSO under read_committed)."""
    end = await consumer.end_offsets(partitions)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while True:
        positions = {tp: await consumer.position(tp) for tp in partitions}
        if all(positions[tp] >= end[tp] for tp in partitions):
            return records
        assert time.monotonic() < deadline, f"stuck at {positions}, end offsets {end}"
        batches = await consumer.getmany(*partitions, timeout_ms=500)
        for batch in batches.values():
            records.extend(batch)


async def test_keyed_records_round_trip_through_a_consumer_group(kafka: KafkaBroker) -> None:
    topic = unique("it-roundtrip")
    kafka.create_topic(topic, PARTITIONS)

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = []
        for i in range(RECORDS):
            org = ORGS[i % len(ORGS)]
            value = json.dumps({"event_id": f"e{i}", "ts": 1_700_000_000_000 + i, "org_id": org})
            futures.append(await producer.send(topic, key=org.encode(), value=value.encode()))
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    produced = {(m.partition, m.offset) for m in metadata}
    assert len(produced) == RECORDS

    group = unique("it-group")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while len(records) < RECORDS:
            assert time.monotonic() < deadline, f"only {len(records)} of {RECORDS} consumed"
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        # Nothing beyond what was produced.
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(batch)
        await consumer.commit()
        assigned = consumer.assignment()
        committed = {tp: await consumer.committed(tp) for tp in assigned}
    finally:
        await consumer.stop()

    assert len(records) == RECORDS
    assert {(r.partition, r.offset) for r in records} == produced
    keys = Counter(r.key.decode() for r in records)
    assert keys == Counter(ORGS[i % len(ORGS)] for i in range(RECORDS))
    for r in records:
        assert json.loads(r.value)["org_id"] == r.key.decode()
    # Key -> one partition (org order is kept), and the keys spread over all partitions.
    partitions_of: dict[bytes, set[int]] = {}
    for r in records:
        partitions_of.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions_of.values())
    assert {r.partition for r in records} == set(range(PARTITIONS))
    # The group's committed offsets cover every record.
    assert {tp.partition for tp in assigned} == set(range(PARTITIONS))
    assert sum(committed.values()) == RECORDS


class _Abort(Exception):
    pass


async def test_read_committed_hides_aborted_transactions(kafka: KafkaBroker) -> None:
    topic = unique("it-tx")
    kafka.create_topic(topic, PARTITIONS)

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, transactional_id=unique("it-tx-producer")
    )
    await producer.start()
    try:
        async with producer.transaction():
            for i in range(20):
                await producer.send(topic, key=ORGS[i].encode(), value=f"committed-a-{i}".encode())
        with pytest.raises(_Abort):
            async with producer.transaction():
                for i in range(20):
                    # Written to the log for sure before the abort.
                    await producer.send_and_wait(
                        topic, key=ORGS[i].encode(), value=f"aborted-{i}".encode()
                    )
                raise _Abort
        async with producer.transaction():
            for i in range(20):
                await producer.send(topic, key=ORGS[i].encode(), value=f"committed-b-{i}".encode())
    finally:
        await producer.stop()

    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]

    async def read(isolation_level: str) -> list[str]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap,
            group_id=unique("it-tx-reader"),
            isolation_level=isolation_level,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            return [r.value.decode() for r in await consume_to_end(consumer, partitions)]
        finally:
            await consumer.stop()

    committed_values = {f"committed-{t}-{i}" for t in "ab" for i in range(20)}
    aborted_values = {f"aborted-{i}" for i in range(20)}

    read_committed = await read("read_committed")
    assert sorted(read_committed) == sorted(committed_values)

    # The aborted records are really in the log: an uncommitted reader sees them.
    read_uncommitted = await read("read_uncommitted")
    assert sorted(read_uncommitted) == sorted(committed_values | aborted_values)
