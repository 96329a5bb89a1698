"""A reader of the repartition topics' binary form written apart from the core's
(core/engine/src/wire.rs), from the format as docs/worker.md states it: the tests read what the
core writes with it and compare with what its JSON form says."""

from __future__ import annotations

import struct
from typing import Any

import orjson


class _Bytes:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.at = 0

    def byte(self) -> int:
        b = self.raw[self.at]
        self.at += 1
        return b

    def uvarint(self) -> int:
        n = shift = 0
        while True:
            b = self.byte()
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return n

    def varint(self) -> int:
        z = self.uvarint()
        return (z >> 1) ^ -(z & 1)

    def take(self, n: int) -> bytes:
        out = self.raw[self.at : self.at + n]
        assert len(out) == n, "truncated"
        self.at += n
        return out

    def text(self) -> str:
        return self.take(self.uvarint()).decode()

    def value(self) -> Any:
        tag = self.byte()
        if tag <= 2:
            return (None, False, True)[tag]
        if tag == 3:
            return self.varint()
        if tag == 4:
            return struct.unpack("<d", self.take(8))[0]
        if tag == 5:
            return self.text()
        if tag == 6:
            return [self.value() for _ in range(self.uvarint())]
        assert tag == 7, f"tag {tag}"
        return {self.text(): self.value() for _ in range(self.uvarint())}


def read_event(raw: bytes) -> dict[str, Any]:
    """One event: its time under `ts`, then its fields in their order."""
    r = _Bytes(raw)
    assert r.byte() == 0
    event: dict[str, Any] = {"ts": r.varint()}
    while r.at < len(raw):
        name = r.text()
        event[name] = r.value()
    return event


def read_body(body: bytes) -> list[dict[str, Any]]:
    """A record body's events (each behind its length)."""
    r = _Bytes(body)
    events = []
    while r.at < len(body):
        events.append(read_event(r.take(r.uvarint())))
    return events


def read_record(record: bytes) -> tuple[int, int, list[dict[str, Any]]]:
    """(source, watermark, events) of a binary repartition record."""
    r = _Bytes(record)
    assert r.take(2) == b"\x00\x01"
    source, watermark = r.varint(), r.varint()
    return source, watermark, read_body(record[r.at :])


def read_any(record: bytes) -> tuple[int, int, list[dict[str, Any]]]:
    """(source, watermark, events) of a repartition record in either form."""
    if record.startswith(b"{"):
        batch = orjson.loads(record)
        return batch["source"], batch["watermark"], batch["events"]
    return read_record(record)
