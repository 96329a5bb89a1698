"""The worker's routing to repartition topics as the Python worker did it before the compiled
core took it over: the reference the core's routing and merge are checked against."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson

from streams.topology import Family
from tests.reference.detectors import spec_for
from tests.reference.events import Event
from tests.reference.filters import Selector

# Repartition records stay well under Kafka's default 1 MB message limit.
BATCH_RECORD_BYTES = 256 * 1024


class BadBatch(ValueError):
    """Why a repartition record cannot be used."""


@dataclass(frozen=True, slots=True)
class Batch:
    source: int  # the input partition that wrote the record
    watermark: int  # how far that partition had come when it wrote it
    events: list[Event]


def key_bytes(key: object) -> bytes:
    """A group key as the bytes its partition is hashed from."""
    return orjson.dumps(list(key) if isinstance(key, tuple) else [key])


def partition_for(key: bytes, partitions: int) -> int:
    """Repartition partition of a group key (both ends are ours: any stable hash will do)."""
    return zlib.crc32(key) % partitions


def select(family: Family) -> Selector:
    """The family's rules' selection, as the reference engine selects."""
    return Selector([spec_for(r) for r in family.rules])


def route(family: Family, events: Sequence[Event], partitions: int) -> dict[int, list[Event]]:
    """The events some rule of the family reads, each cut down to what its rules read, by the
    partition of its group (the first selecting rule's key)."""
    chosen: dict[int, object] = {}
    for idxs, keys, _ in select(family)(events):
        for i, key in zip(idxs, keys, strict=True):
            chosen.setdefault(i, key)
    # The event time first: the family side reads it there without parsing the event.
    fields = sorted(family.fields, key=lambda name: name != "ts")
    routed: dict[int, list[Event]] = {}
    for i, key in sorted(chosen.items()):
        part = partition_for(key_bytes(key), partitions)
        routed.setdefault(part, []).append(
            {name: events[i][name] for name in fields if name in events[i]}
        )
    return routed


def encode_batch(
    source: int, watermark: int, events: Sequence[Event], limit: int = BATCH_RECORD_BYTES
) -> list[bytes]:
    """The records carrying `events` in order, each of at most about `limit` bytes (an event
    larger than that goes alone); at least one, so that the watermark is always sent."""
    # Built from the encoded events rather than by encoding one dict per record: the events
    # are encoded once, and a record is cut where it would grow past the limit.
    head = orjson.dumps({"source": source, "watermark": watermark})[:-1] + b',"events":['
    return [head + b",".join(chunk) + b"]}" for chunk in _chunks(events, limit)]


def decode_batch(value: bytes | None) -> Batch:
    """The record's source, watermark and events; BadBatch with the reason otherwise."""
    try:
        batch = orjson.loads(value or b"")
        source, watermark = int(batch["source"]), int(batch["watermark"])
        events = batch["events"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadBatch(str(exc)) from exc
    if events.__class__ is not list:
        raise BadBatch("events: expected a list")
    # The merge orders events by `ts`: one without an integer there would stop it later,
    # outside any record, where it could not be dead-lettered.
    for event in events:
        if event.__class__ is not dict or event.get("ts").__class__ is not int:
            raise BadBatch("events: expected objects with an integer ts")
    return Batch(source, watermark, events)


def _chunks(events: Sequence[Event], limit: int) -> Iterator[list[bytes]]:
    """Runs of encoded events of at most `limit` bytes each (a larger event alone); at least
    one, possibly empty."""
    chunk: list[bytes] = []
    size = 0
    for item in map(orjson.dumps, events):
        if chunk and size + len(item) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item) + 1
    yield chunk


def split_late(events: list[Event], now: int, lateness: int) -> tuple[list[Event], list[Event]]:
    """(on time, late): an event older than the highest event time seen before it, minus the
    allowed lateness, is late and does not move time."""
    on_time: list[Event] = []
    late: list[Event] = []
    for e in events:
        ts = e["ts"]
        if ts < now - lateness:
            late.append(e)
        else:
            on_time.append(e)
            now = max(now, ts)
    return on_time, late
