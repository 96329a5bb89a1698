"""The records of the repartition topics, as input partitions write them.

For each batch it reads, an input partition writes one record into every partition of each
repartition topic: its partition (the source), its watermark, and the events of that batch
whose group hashes there, cut down to the fields the family's rules read. In the binary form
(the default):

    0x00 0x01 source:zigzag-varint watermark:zigzag-varint (length:varint event)*

each event in the compiled core's binary form (core/engine/src/wire.rs); in the JSON form, the
only one versions before it wrote and read (`--repartition-format json`):

    {"source": <input partition>, "watermark": <its watermark>, "events": [...]}

Family partitions read both. A record with no events still carries the watermark: it is how a
family partition learns that the source has passed a point in event time. A batch whose events
for one partition outgrow a record is cut into several, and only the last carries the new
watermark: the promise holds once all of them are written (the ones before repeat the earlier
promise).

The compiled core chooses the partitions, cuts the events down and writes them
(core/engine/src/route.rs); a family partition's engine reads these records and merges them
(core/engine/src/merge.rs).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from signalfire.engine.core import RepartitionFormat

# Repartition records stay well under Kafka's default 1 MB message limit.
BATCH_RECORD_BYTES = 256 * 1024

BINARY_RECORD = b"\x00\x01"


def encode_batch(
    source: int,
    watermark: int,
    bodies: Sequence[bytes],
    *,
    promised: int,
    form: RepartitionFormat = "binary",
) -> list[bytes]:
    """The records carrying the bodies `bodies` (the events the core wrote in `form`, each
    body at most about BATCH_RECORD_BYTES); at least one, so that the watermark is always
    sent. `promised` is the watermark this source sent before: the records but the last carry
    it."""
    bodies = bodies or (b"",)
    last = len(bodies) - 1
    frame = _binary if form == "binary" else _json
    return [frame(source, watermark if n == last else promised, b) for n, b in enumerate(bodies)]


def _json(source: int, watermark: int, body: bytes) -> bytes:
    head = orjson.dumps({"source": source, "watermark": watermark})[:-1]
    return head + b',"events":[' + body + b"]}"


def _binary(source: int, watermark: int, body: bytes) -> bytes:
    return BINARY_RECORD + _zigzag(source) + _zigzag(watermark) + body


def _zigzag(n: int) -> bytes:
    """A signed 64-bit integer as a zigzag LEB128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)
