"""Event-time merge of a repartition partition fed by every input partition.

Each input partition writes its events to the repartition topic as it reads them, and from
time to time a marker with its watermark into every repartition partition. Events wait here
until every input partition has promised, by its markers, that nothing older will come; they
are then released in event-time order. So a family's engine sees its events in order however
far apart the input partitions (or the workers reading them) run, e.g. when catching up on a
backlog. Offsets of records not yet released are not committed.
"""

from __future__ import annotations

import heapq
from collections import deque

from signalfire.events import Event

MARKER_HEADER = "signalfire-watermark"


class Merger:
    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.marks: dict[int, int] = {}
        self.heap: list[tuple[int, int, int, Event]] = []
        self.arrivals: deque[int] = deque()
        self.released: set[int] = set()
        self._seq = 0

    def add(self, event: Event, offset: int) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (event["ts"], self._seq, offset, event))
        self.arrivals.append(offset)

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
            self.released.add(offset)
            out.append(event)
        return out

    def safe_offset(self, next_offset: int) -> int:
        """Offset to commit: the oldest record still buffered, or everything read."""
        arrivals, released = self.arrivals, self.released
        while arrivals and arrivals[0] in released:
            released.discard(arrivals.popleft())
        return arrivals[0] if arrivals else next_offset

    def __len__(self) -> int:
        return len(self.heap)
