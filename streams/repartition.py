"""The records of the repartition topics, as input partitions write them.

For each batch it reads, an input partition writes one record into every partition of each
repartition topic:

    {"source": <input partition>, "watermark": <its watermark>, "events": [...]}

with the events of that batch whose group hashes there, cut down to the fields the family's
rules read. A record with no events still carries the watermark: it is how a family partition
learns that the source has passed a point in event time. A batch whose events for one partition
outgrow a record is cut into several, and only the last carries the new watermark: the
promise holds once all of them are written (the ones before repeat the earlier promise).

The compiled core chooses the partitions, cuts the events down and writes them
(core/engine/src/route.rs); a family partition's engine reads these records and merges them
(core/engine/src/merge.rs).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

# Repartition records stay well under Kafka's default 1 MB message limit.
BATCH_RECORD_BYTES = 256 * 1024


def encode_batch(
    source: int, watermark: int, bodies: Sequence[bytes], *, promised: int
) -> list[bytes]:
    """The records carrying the event lists `bodies` (events' JSON joined by commas, each at
    most about BATCH_RECORD_BYTES); at least one, so that the watermark is always sent.
    `promised` is the watermark this source sent before: the records but the last carry it."""
    bodies = bodies or (b"",)
    last = len(bodies) - 1
    return [
        _head(source, watermark if n == last else promised) + body + b"]}"
        for n, body in enumerate(bodies)
    ]


def _head(source: int, watermark: int) -> bytes:
    return orjson.dumps({"source": source, "watermark": watermark})[:-1] + b',"events":['
