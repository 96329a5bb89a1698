"""The records of the repartition topics: which partition an event goes to, and the bytes.

For each batch it reads, an input partition writes one record into every partition of each
repartition topic:

    {"source": <input partition>, "watermark": <its watermark>, "events": [...]}

with the events of that batch whose group hashes there, cut down to the fields the family's
rules read. A record with no events still carries the watermark: it is how a family partition
learns that the source has passed a point in event time. Input partitions write these records
and family partitions read them, so the encoder and the decoder live here side by side.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson

from signalfire.events import Event
from streams.topology import Family

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


def route(family: Family, events: Sequence[Event], partitions: int) -> dict[int, list[Event]]:
    """The events some rule of the family reads, each cut down to what its rules read, by the
    partition of its group."""
    routed: dict[int, list[Event]] = {}
    project = family.project
    for i, key in family.route(events):
        part = partition_for(key_bytes(key), partitions)
        routed.setdefault(part, []).append(project(events[i]))
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
