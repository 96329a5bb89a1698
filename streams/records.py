"""Kafka records in and out: decoding with a dead-letter reason, DLQ and pager records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from signalfire.events import DeadLetterReason, Event, EventError, decode

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


def decode_value(value: bytes | None, max_bytes: int) -> Event:
    """The record's event; EventError with a short reason otherwise. An oversized value is
    rejected before it is parsed."""
    if value is None:
        raise EventError("empty record (no value)", DeadLetterReason.OTHER)
    if len(value) > max_bytes:
        raise EventError(
            f"record too large: {len(value)} bytes > {max_bytes}", DeadLetterReason.OVERSIZED
        )
    return decode(value)


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


def decode_records(
    records: Sequence[Record], max_bytes: int
) -> tuple[list[Event], list[DeadLetter]]:
    """The records' events, and a dead letter for each record that holds none."""
    events: list[Event] = []
    dead: list[DeadLetter] = []
    for r in records:
        try:
            events.append(decode_value(r.value, max_bytes))
        except EventError as exc:
            dead.append(
                dead_letter(
                    r.key,
                    r.value,
                    str(exc),
                    exc.reason,
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                )
            )
    return events, dead
