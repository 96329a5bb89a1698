"""Kafka records in and out: what goes to the engine, dead letters with their reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from signalfire.engine.core import DeadLetter as EngineDeadLetter
from signalfire.events import DeadLetterReason

Headers = list[tuple[str, bytes]]


class Record(Protocol):
    """A consumed record, as aiokafka and the in-memory Kafka of the tests both hand it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be used, kept byte for byte (CONTRACTS.md section 3)."""

    key: bytes | None
    value: bytes | None
    headers: Headers
    reason: DeadLetterReason  # the metrics' label; the `error` header holds the words


def usable_values(
    records: Sequence[Record], max_bytes: int
) -> tuple[list[bytes], list[int], list[DeadLetter]]:
    """The record values for the engine, with the position of each one's record, and a dead
    letter for each record that holds none or is too large to parse."""
    present = [r.value for r in records]
    # The usual batch, every value there and none too large, is checked by loops in C.
    if None not in present:
        every = cast("list[bytes]", present)
        if max(map(len, every), default=0) <= max_bytes:
            return every, list(range(len(every))), []
    values: list[bytes] = []
    positions: list[int] = []
    dead: list[DeadLetter] = []
    for n, r in enumerate(records):
        if r.value is None:
            error, reason = "empty record (no value)", DeadLetterReason.OTHER
        elif len(r.value) > max_bytes:
            error = f"record too large: {len(r.value)} bytes > {max_bytes}"
            reason = DeadLetterReason.OVERSIZED
        else:
            values.append(r.value)
            positions.append(n)
            continue
        dead.append(
            dead_letter(
                r.key, r.value, error, reason, topic=r.topic, partition=r.partition, offset=r.offset
            )
        )
    return values, positions, dead


def rejected(
    records: Sequence[Record], positions: Sequence[int], refused: Sequence[EngineDeadLetter]
) -> list[DeadLetter]:
    """Dead letters for the values the engine refused (`positions[i]` is value i's record)."""
    out = []
    for d in refused:
        r = records[positions[d.index]]
        out.append(
            dead_letter(
                r.key, r.value, d.message, d.reason,
                topic=r.topic, partition=r.partition, offset=r.offset,
            )
        )  # fmt: skip
    return out


def dead_letter(
    key: bytes | None,
    value: bytes | None,
    error: str,
    reason: DeadLetterReason,
    *,
    topic: str,
    partition: int,
    offset: int,
) -> DeadLetter:
    headers = [
        ("error", error.encode("utf-8", "replace")[:512]),
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
    ]
    return DeadLetter(key, value, headers, reason)
