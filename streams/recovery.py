"""A partition's work as a snapshot, and taken over again after its owner is gone.

A new owner starts from the last snapshot, or from the start of the topic when there is none,
and reads up to the committed offset again as a replay: the same processing, with the outputs
that are in Kafka already dropped (forwards and dead letters; pages by the page log). The
clock moves committed since the snapshot are made again at the offsets where they were made,
so the rebuilt clocks are those of a run without the crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.emit import PageLog
from streams.records import Record
from streams.state import Move, Snapshot, WorkState
from streams.topology import DIRECT

if TYPE_CHECKING:
    from signalfire.engine.core import CoreEngine
    from streams.work import Work

# Clock moves kept between snapshots: their offset metadata stays far under Kafka's 4 KB limit
# (`offset.metadata.max.bytes`). A partition with `CHECKPOINT_MOVES` of them is snapshotted at
# once; one with `MAX_MOVES` (its snapshots failing) stays where it is rather than make a move
# that a crash could not make again.
CHECKPOINT_MOVES = 16
MAX_MOVES = 32


def replaying(work: Work) -> bool:
    """Still making again what a crashed owner did: nothing to commit or snapshot yet."""
    return work.replay_until is not None or bool(work.replay_moves)


@dataclass(frozen=True, slots=True)
class Capture:
    """A partition's snapshot as it stands now, but for its engine's own state: `take` saves
    that. Until it has, the engine must not change (the worker saves it in a thread while the
    other partitions go on)."""

    work: WorkState
    engine: CoreEngine
    offset: int

    def take(self, pager_ends: dict[int, int]) -> Snapshot:
        return Snapshot(self.work, self.engine.save(), self.offset, pager_ends)


def capture_of(work: Work) -> Capture | None:
    if work.next_offset is None or replaying(work):
        return None
    if work.family == DIRECT:
        # The moves so far are in the state: they are not written with the offsets again.
        return Capture(state_of(work, moves=[]), work.engine, work.next_offset)
    if work.refill is not None:
        return None  # the merge buffer is still being read again: not in the state yet
    # A family partition's merge buffer (the last allowed lateness of events) is in the topic
    # already: the engine's state leaves it out, and the snapshot starts from the oldest
    # record still buffered, which a restore reads again, skipping the events applied then.
    frontier = work.engine.frontier
    applied = frontier if frontier is not None else -(2**62)
    state = state_of(work, refill=(work.next_offset, applied))
    return Capture(state, work.engine, work.engine.safe_offset(work.next_offset))


def state_of(
    work: Work, moves: list[Move] | None = None, refill: tuple[int, int] | None = None
) -> WorkState:
    return WorkState(
        work.family,
        work.next_offset,
        work.marked,
        refill if refill is not None else work.refill,
        list(work.moves) if moves is None else moves,
    )


def resume(
    work: Work, start: int, committed: int | None, page_log: PageLog, moves: Sequence[Move]
) -> None:
    """Set up the replay of a partition read again from `start` (its snapshot's offset, or 0)
    whose previous owner committed `committed` and, since `start`, the clock `moves`."""
    work.page_log = page_log
    # Records read before the snapshot are read again to refill the merge buffer: their
    # dead letters are in Kafka already, like those of records up to the committed offset.
    until = max(committed or 0, work.refill[0] if work.refill else 0)
    if until > start:
        work.replay_until = until
    work.moves = list(moves)
    work.replay_moves = [m for m in moves if m[0] >= start]


def replay_run(work: Work, records: Sequence[Record], start: int) -> tuple[int, bool]:
    """Where the run of records from `start` ends, and whether it is a replay: a run ends where
    the replay ends or where a committed clock move is to be made again."""
    until = work.replay_until
    if until is not None and records[start].offset >= until:
        until = work.replay_until = None  # the records up to it are gone (retention)
    bounds = [b for b in (until, work.replay_moves[0][0] if work.replay_moves else None)
              if b is not None]  # fmt: skip
    end = len(records)
    if bounds:
        bound = min(bounds)
        end = next((n for n in range(start, end) if records[n].offset >= bound), end)
    return end, until is not None


def replayed(work: Work, last: int) -> None:
    """The replay has applied the records up to offset `last`."""
    if work.replay_until is not None and last + 1 >= work.replay_until:
        work.replay_until = None


def record_move(work: Work) -> None:
    """The idle partition's clock has just moved without an event: keep the move, to commit it
    with the offset it was made at."""
    # Not pending and nothing read: the partition is empty, its offset is 0.
    offset = work.next_offset = work.next_offset or 0
    move = (offset, work.engine.now)
    if work.moves and work.moves[-1][0] == offset:
        work.moves[-1] = move  # only the last of moves at one offset matters
    else:
        work.moves.append(move)
