"""Event-time merge of a repartition partition fed by every input partition.

Each input partition writes, per batch it reads, one record into every partition of each
repartition topic (streams/repartition.py): the events of that batch that belong there and the
input partition's watermark. Events wait here until every input partition has promised, by its
markers, that nothing older will come; they are then released in event-time order (ties in
arrival order). So a family's engine sees its events in order however far apart the input
partitions (or the workers reading them) run, e.g. when catching up on a backlog. Offsets of
records not yet released are not committed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from operator import itemgetter
from typing import Any

from tests.reference.events import Event

_ts = itemgetter("ts")


class _Run:
    """The buffered events of one record, sorted by event time, and how many have left."""

    __slots__ = ("events", "offset", "start", "times")

    def __init__(self, offset: int, events: list[Event]) -> None:
        events.sort(key=_ts)  # stable: ties keep their order in the record
        self.offset = offset
        self.times = [e["ts"] for e in events]
        self.events = events
        self.start = 0


class Merger:
    """Records are kept as sorted runs, one per record: a release cuts each run at the frontier
    (a binary search) and sorts what it cut, which is mostly in order already, in C -- no
    per-event heap operations in Python."""

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.marks: dict[int, int] = {}
        self.runs: deque[_Run] = deque()  # records with events still buffered, oldest first

    def __setstate__(self, state: dict[str, Any]) -> None:
        heap = state.pop("heap", None)
        for name in ("arrivals", "unreleased", "_seq"):
            state.pop(name, None)
        self.__dict__.update(state)
        if heap is not None:  # a snapshot from the heap-based merger: same order, as runs
            self.runs = deque()
            by_offset: dict[int, list[tuple[int, Event]]] = {}
            for _, seq, offset, event in heap:
                by_offset.setdefault(offset, []).append((seq, event))
            for offset in sorted(by_offset, key=lambda o: min(s for s, _ in by_offset[o])):
                self.runs.append(_Run(offset, [e for _, e in sorted(by_offset[offset])]))

    def add_record(self, events: list[Event], offset: int, floor: int | None = None) -> list[Event]:
        """Buffer the events of the record at `offset` (the list is kept and sorted in place);
        those older than `floor` are returned instead."""
        if not events:
            return []
        run = _Run(offset, events)
        late: list[Event] = []
        if floor is not None and run.times[0] < floor:
            run.start = bisect_left(run.times, floor)
            late = events[: run.start]
        if run.start < len(events):
            self.runs.append(run)
        return late

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
        """Buffered events at or before the frontier, in event-time order (ties: arrival)."""
        frontier = self.frontier
        out: list[Event] = []
        if frontier is None:
            return out
        cut = 0
        for run in self.runs:
            end = bisect_right(run.times, frontier, run.start)
            if end > run.start:
                out += run.events[run.start : end]
                run.start = end
                cut += 1
        if cut > 1:
            out.sort(key=_ts)  # stable: runs were cut in arrival order
        runs = self.runs
        while runs and runs[0].start == len(runs[0].events):
            runs.popleft()
        return out

    def safe_offset(self, next_offset: int) -> int:
        """Offset to commit: the oldest record still buffered, or everything read."""
        for run in self.runs:
            if run.start < len(run.events):
                return run.offset
        return next_offset

    def without_buffer(self) -> Merger:
        """The sources' marks alone: what a snapshot keeps (the buffer is read again)."""
        light = Merger(self.sources)
        light.marks = dict(self.marks)
        return light

    def __len__(self) -> int:
        return sum(len(run.events) - run.start for run in self.runs)
