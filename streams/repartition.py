"""The records of the repartition topics, as input partitions write them.

For each batch it reads, an input partition writes one record into every partition of each
repartition topic:

    {"source": <input partition>, "watermark": <its watermark>, "events": [...]}

with the events of that batch whose group hashes there, cut down to the fields the family's
rules read. A record with no events still carries the watermark: it is how a family partition
learns that the source has passed a point in event time. The compiled core chooses the
partitions, cuts the events down and writes them (core/engine/src/route.rs); a family
partition's engine reads these records and merges them (core/engine/src/merge.rs).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

# Repartition records stay well under Kafka's default 1 MB message limit.
BATCH_RECORD_BYTES = 256 * 1024


def encode_batch(source: int, watermark: int, bodies: Sequence[bytes]) -> list[bytes]:
    """The records carrying the event lists `bodies` (events' JSON joined by commas, each at
    most about BATCH_RECORD_BYTES); at least one, so that the watermark is always sent."""
    head = orjson.dumps({"source": source, "watermark": watermark})[:-1] + b',"events":['
    return [head + body + b"]}" for body in bodies or (b"",)]
