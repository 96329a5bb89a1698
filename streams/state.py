"""Durable partition state: snapshots in a compacted Kafka topic, and the page log.

A snapshot of a partition's work (engine state, offset) is written inside the same
transaction as the outputs and offsets it covers, every checkpoint interval and when the
partition is handed over. After a crash the new owner restores the last snapshot and replays
the records between it and the committed offset with their outputs suppressed: the engine is
deterministic, so replay rebuilds the state exactly. The one decision that depends on wall-clock
time -- an idle partition's clock moved forward -- is committed with the offsets, in their
metadata, and made again at the same offset in the replay, so the rebuilt clocks, and the
lateness of every later event, are those of a run without the crash. Pages those moves raised
are recognised in the page log, the pages this partition produced since the snapshot, and not
sent twice.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.records import Record

SOURCE_HEADER = "signalfire-source"
MAGIC = b"SFWK"
# 2 and 3: zlib-compressed pickles of the Python engine; 4: an explicit header and the
# compiled engine's own versioned state. A snapshot of another format is not restored, and its
# partition is rebuilt from the start of its topic instead.
FORMAT = 4
READ_TIMEOUT_MS = 200
# Snapshots of a busy partition reach megabytes: their topics and producers allow this much.
MAX_SNAPSHOT_BYTES = 64 << 20


# (offset, clock): once the records before `offset` were applied, the stream clock moved to
# `clock` without an event (an idle partition moved forward).
Move = tuple[int, int]


def encode_moves(moves: list[Move]) -> str:
    """Offset-commit metadata holding a partition's clock moves since its last snapshot."""
    return orjson.dumps({"moves": moves}).decode() if moves else ""


def decode_moves(metadata: str | None) -> list[Move]:
    """The moves in offset-commit metadata; none in metadata that is empty or not ours (offsets
    reset by a tool)."""
    if not metadata:
        return []
    try:
        moves = orjson.loads(metadata)["moves"]
        return [(int(offset), int(clock)) for offset, clock in moves]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return []


@dataclass(frozen=True, slots=True)
class WorkState:
    """What a snapshot keeps of a partition's work besides its engine (streams.processor.Work
    has the meaning of each field)."""

    family: str
    next_offset: int | None
    marked: int
    refill: tuple[int, int] | None
    moves: list[Move]


class SnapshotRefused(ValueError):
    """A snapshot this worker cannot take over: the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A partition's state: `MAGIC`, the format (u16), the header's length (u32), the header
    (JSON: the work's fields, the offset and the pager ends), then the engine's own state
    (zlib-compressed; its format is the engine's, see docs/worker.md)."""

    work: WorkState
    engine: bytes  # CoreEngine.save()
    offset: int  # next input offset after what the state covers
    pager_ends: dict[int, int]  # pager partition -> end offset when the snapshot was taken

    def encode(self) -> bytes:
        header = orjson.dumps(
            {
                "family": self.work.family,
                "next_offset": self.work.next_offset,
                "marked": self.work.marked,
                "refill": self.work.refill,
                "moves": self.work.moves,
                "offset": self.offset,
                "pager_ends": {str(p): end for p, end in self.pager_ends.items()},
            }
        )
        # Level 1: most of the gain (engine states compress 3-4x) for little of the time, which
        # is spent inside the event loop.
        return b"".join(
            (
                MAGIC,
                FORMAT.to_bytes(2, "little"),
                len(header).to_bytes(4, "little"),
                header,
                zlib.compress(self.engine, 1),
            )
        )

    @staticmethod
    def decode(blob: bytes) -> Snapshot:
        """The snapshot in `blob`; SnapshotRefused if it is not one this worker reads."""
        if blob[:4] != MAGIC:
            raise SnapshotRefused("not a snapshot of this worker's format (an older version?)")
        fmt = int.from_bytes(blob[4:6], "little")
        if fmt != FORMAT:
            raise SnapshotRefused(f"snapshot format {fmt}, this worker reads {FORMAT}")
        size = int.from_bytes(blob[6:10], "little")
        try:
            h = orjson.loads(blob[10 : 10 + size])
            refill = h["refill"]
            work = WorkState(
                str(h["family"]),
                None if h["next_offset"] is None else int(h["next_offset"]),
                int(h["marked"]),
                None if refill is None else (int(refill[0]), int(refill[1])),
                [(int(offset), int(clock)) for offset, clock in h["moves"]],
            )
            ends = {int(p): int(end) for p, end in h["pager_ends"].items()}
            engine = zlib.decompress(blob[10 + size :])
            return Snapshot(work, engine, int(h["offset"]), ends)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, zlib.error) as exc:
            raise SnapshotRefused(f"damaged snapshot: {exc}") from None


def state_key(topic: str, partition: int) -> bytes:
    return f"{topic}:{partition}".encode()


async def committed_offsets(
    consumer: AIOKafkaConsumer, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], tuple[int | None, list[Move]]]:
    """Each partition's committed offset (None if none) and the clock moves committed with it.

    `AIOKafkaConsumer.committed()` drops the metadata committed with an offset; the group
    coordinator it asks returns both (and retries while the group is loading).
    """
    ktps = [TopicPartition(*tp) for tp in partitions]
    found = await consumer._coordinator.fetch_committed_offsets(ktps)
    result: dict[tuple[str, int], tuple[int | None, list[Move]]] = {}
    for tp, ktp in zip(partitions, ktps, strict=True):
        committed = found.get(ktp)
        if committed is None or committed.offset < 0:
            result[tp] = (None, [])
        else:
            result[tp] = (committed.offset, decode_moves(committed.metadata))
    return result


async def read_last(
    consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, bytes]
) -> dict[TopicPartition, bytes]:
    """The newest value of each key, each in its own partition (the last record written).

    Looked for in the last 16 offsets, then 16 times further back each time: a worker that died
    in the middle of checkpoints left an aborted snapshot and an abort marker each time after
    the last good one. Missing it, a restore would rebuild from the start of the input without
    the clock moves that snapshot holds.
    """
    ends = await consumer.end_offsets(list(wanted))
    firsts = await consumer.beginning_offsets(list(wanted))
    found: dict[TopicPartition, bytes] = {}
    below = dict(ends)  # searched from here to the end
    window = 16
    todo = [tp for tp in wanted if ends[tp] > firsts[tp]]
    while todo:
        consumer.assign(todo)
        stops: dict[TopicPartition, int] = {}
        for tp in todo:
            stops[tp], below[tp] = below[tp], max(firsts[tp], below[tp] - window)
            consumer.seek(tp, below[tp])
        take = partial(_in_window, wanted, stops)
        await _drain(consumer, todo, stops, take, found)
        todo = [tp for tp in todo if tp not in found and below[tp] > firsts[tp]]
        window *= 16
    return found


def _in_window(
    wanted: dict[TopicPartition, bytes],
    stops: dict[TopicPartition, int],
    tp: TopicPartition,
    r: Record,
) -> bool:
    return bool(r.offset < stops[tp] and r.key == wanted[tp])


async def read_page_logs(
    consumer: AIOKafkaConsumer, topic: str, since: dict[bytes, dict[int, int]]
) -> dict[bytes, Counter[tuple[str, str, str]]]:
    """Per source: (dedup key, action, timestamp) of the pages it produced after its `since`."""
    logs: dict[bytes, Counter[tuple[str, str, str]]] = {src: Counter() for src in since}
    parts = sorted({p for offsets in since.values() for p in offsets})
    tps = [TopicPartition(topic, p) for p in parts]
    if not tps:
        return logs
    start = {p: min(o[p] for o in since.values() if p in o) for p in parts}
    ends = await consumer.end_offsets(tps)
    todo = [tp for tp in tps if ends[tp] > start[tp.partition]]
    if not todo:
        return logs
    consumer.assign(todo)
    for tp in todo:
        consumer.seek(tp, start[tp.partition])

    def keep(tp: TopicPartition, r: Record) -> bool:
        src = dict(r.headers or ()).get(SOURCE_HEADER)
        if src in since and r.value is not None and r.offset >= since[src].get(tp.partition, 0):
            logs[src][page_identity(r.value)] += 1
        return False

    await _drain(consumer, todo, ends, keep, {})
    return logs


async def _drain(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    ends: dict[TopicPartition, int],
    take: Callable[[TopicPartition, Record], bool],
    found: dict[TopicPartition, bytes],
) -> None:
    # The last offsets of a transactional topic are commit markers, never returned as
    # records: stop when the position has reached the end, not when a record has.
    todo = set(tps)
    while todo:
        batch = await consumer.getmany(*todo, timeout_ms=READ_TIMEOUT_MS)
        for tp, records in batch.items():
            for r in records:
                if take(tp, r):
                    found[tp] = r.value
        for tp in list(todo):
            if await consumer.position(tp) >= ends[tp]:
                todo.discard(tp)


def page_identity(value: bytes) -> tuple[str, str, str]:
    m = orjson.loads(value)
    return (m["dedup_key"], m["event_action"], m["payload"]["timestamp"])
