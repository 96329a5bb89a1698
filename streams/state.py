"""Durable partition state: snapshots in a compacted Kafka topic, and the page log.

A snapshot of a partition's work (engine, merge buffer, offset) is written inside the same
transaction as the outputs and offsets it covers, every checkpoint interval and when the
partition is handed over. After a crash the new owner restores the last snapshot and replays
the records between it and the committed offset with their outputs suppressed: the engine is
deterministic, so replay rebuilds the state exactly. Pages that depended on wall-clock time
(an idle partition moved forward) are recognised in the page log, the pages this partition
produced since the snapshot, and not sent twice.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

SOURCE_HEADER = "signalfire-source"
FORMAT = 1
READ_TIMEOUT_MS = 500


@dataclass
class Snapshot:
    work: Any  # streams.processor.Work, without its wall-clock fields
    offset: int  # next input offset after what the state covers
    pager_ends: dict[int, int]  # pager partition -> end offset when the snapshot was taken

    def encode(self) -> bytes:
        return pickle.dumps((FORMAT, self), protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def decode(blob: bytes) -> Snapshot | None:
        try:
            fmt, snap = pickle.loads(blob)
        except Exception:
            return None
        return snap if fmt == FORMAT and isinstance(snap, Snapshot) else None


def state_key(topic: str, partition: int) -> bytes:
    return f"{topic}:{partition}".encode()


def source_value(topic: str, partition: int) -> bytes:
    return state_key(topic, partition)


async def read_last(consumer: AIOKafkaConsumer, tp: TopicPartition, key: bytes) -> bytes | None:
    """The newest value for `key` in one partition (it is the last record written there)."""
    end = (await consumer.end_offsets([tp]))[tp]
    if end == 0:
        return None
    consumer.assign([tp])
    consumer.seek(tp, max(0, end - 16))
    found = None
    while True:
        batch = await consumer.getmany(tp, timeout_ms=READ_TIMEOUT_MS)
        records = batch.get(tp, [])
        for r in records:
            if r.key == key:
                found = r.value
        if not records or records[-1].offset >= end - 1:
            return found


async def read_page_log(
    consumer: AIOKafkaConsumer, topic: str, since: dict[int, int], source: bytes
) -> Counter[tuple[str, str, str]]:
    """(dedup key, action, timestamp) of pages this source produced after `since`."""
    log: Counter[tuple[str, str, str]] = Counter()
    tps = [TopicPartition(topic, p) for p in since]
    if not tps:
        return log
    ends = await consumer.end_offsets(tps)
    consumer.assign(tps)
    todo = set()
    for tp in tps:
        if ends[tp] > since[tp.partition]:
            consumer.seek(tp, since[tp.partition])
            todo.add(tp)
    while todo:
        batch = await consumer.getmany(*todo, timeout_ms=READ_TIMEOUT_MS)
        if not batch:
            break
        for tp, records in batch.items():
            for r in records:
                if dict(r.headers or ()).get(SOURCE_HEADER) == source:
                    log[page_identity(r.value)] += 1
            if records and records[-1].offset >= ends[tp] - 1:
                todo.discard(tp)
    return log


def page_identity(value: bytes) -> tuple[str, str, str]:
    m = orjson.loads(value)
    return (m["dedup_key"], m["event_action"], m["payload"]["timestamp"])
