"""Kafka records in and out: decoding with a dead-letter reason, DLQ and pager records."""

from __future__ import annotations

from dataclasses import dataclass

from signalfire.events import Event, EventError, decode

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be used, kept byte for byte (CONTRACTS.md section 3)."""

    key: bytes | None
    value: bytes | None
    headers: Headers


def decode_value(value: bytes | None, max_bytes: int) -> Event:
    """The record's event; EventError with a short reason otherwise. An oversized value is
    rejected before it is parsed."""
    if value is None:
        raise EventError("empty record (no value)")
    if len(value) > max_bytes:
        raise EventError(f"record too large: {len(value)} bytes > {max_bytes}")
    return decode(value)


def dead_letter(
    key: bytes | None, value: bytes | None, error: str, *, topic: str, partition: int, offset: int
) -> DeadLetter:
    headers = [
        ("error", error.encode("utf-8", "replace")[:512]),
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
    ]
    return DeadLetter(key, value, headers)
