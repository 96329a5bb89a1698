"""Event-time merge of a repartition partition fed by every input partition.

Each input partition writes, per batch it reads, one record into every partition of each
repartition topic: the events of that batch that belong there and the input partition's
watermark. Events wait here
until every input partition has promised, by its markers, that nothing older will come; they
are then released in event-time order. So a family's engine sees its events in order however
far apart the input partitions (or the workers reading them) run, e.g. when catching up on a
backlog. Offsets of records not yet released are not committed.
"""

from __future__ import annotations

import heapq
import zlib
from collections import deque

from signalfire.events import Event

MARKER_HEADER = "signalfire-watermark"


def partition_for(key: bytes, partitions: int) -> int:
    """Repartition partition of a group key (both ends are ours: any stable hash will do)."""
    return zlib.crc32(key) % partitions


class Merger:
    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.marks: dict[int, int] = {}
        self.heap: list[tuple[int, int, int, Event]] = []
        # offsets of records with events still buffered, in arrival order, and how many
        self.arrivals: deque[int] = deque()
        self.unreleased: dict[int, int] = {}
        self._seq = 0

    def add(self, event: Event, offset: int) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (event["ts"], self._seq, offset, event))
        if offset not in self.unreleased:
            self.unreleased[offset] = 0
            self.arrivals.append(offset)
        self.unreleased[offset] += 1

    def mark(self, source: int, watermark: int) -> None:
        if watermark > self.marks.get(source, -(2**62)):
            self.marks[source] = watermark

    @property
    def frontier(self) -> int | None:
        """Event time up to which every input partition has reported, if all have."""
        if len(self.marks) < self.sources:
            return None
        return min(self.marks.values())

    def release(self) -> list[Event]:
        """Buffered events at or before the frontier, in event-time order."""
        frontier = self.frontier
        out: list[Event] = []
        heap = self.heap
        if frontier is None:
            return out
        while heap and heap[0][0] <= frontier:
            _, _, offset, event = heapq.heappop(heap)
            self.unreleased[offset] -= 1
            out.append(event)
        return out

    def safe_offset(self, next_offset: int) -> int:
        """Offset to commit: the oldest record still buffered, or everything read."""
        arrivals, unreleased = self.arrivals, self.unreleased
        while arrivals and unreleased[arrivals[0]] == 0:
            del unreleased[arrivals.popleft()]
        return arrivals[0] if arrivals else next_offset

    def without_buffer(self) -> Merger:
        """The sources' marks alone: what a snapshot keeps (the buffer is read again)."""
        light = Merger(self.sources)
        light.marks = dict(self.marks)
        return light

    def __len__(self) -> int:
        return len(self.heap)
