"""A partition's work: its engine and where it stands in its topic, and what /readyz shows of
the partitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from signalfire.engine.core import CoreEngine
from streams.emit import PageLog
from streams.state import Move


@dataclass(slots=True)
class Work:
    """A partition's state: its engine and where it stands (a snapshot keeps the fields of
    streams.state.WorkState and the engine's saved state)."""

    family: str
    engine: CoreEngine
    last_active: float
    next_offset: int | None = None
    marked: int = -(2**62)  # input partitions: the last watermark sent downstream
    # After a restore: records before this offset were processed before, their outputs are
    # already in Kafka; pages in `page_log` were already sent.
    replay_until: int | None = None
    page_log: PageLog | None = None
    # Repartition partitions after a restore: records before `refill[0]` were read before the
    # snapshot; of their events, those at or before `refill[1]` (the merge frontier then) were
    # applied already and are skipped, the others refill the merge buffer.
    refill: tuple[int, int] | None = None
    # Input partitions: the clock moves of an idle partition since its last snapshot, as
    # (offset, clock): once the records before `offset` were applied, the clock moved to
    # `clock` without an event. A wall-clock decision, so it is committed with the offsets
    # (their metadata) and made again at the same offset after a crash; `replay_moves` are
    # those a restore has still to make again.
    moves: list[Move] = field(default_factory=list)
    replay_moves: list[Move] = field(default_factory=list)


class WorkerStats(TypedDict):
    """What /readyz shows of the partitions, per partition as `topic[partition]`."""

    partitions: list[str]
    rules: int
    families: list[str]
    late: dict[str, int]
    clock: dict[str, int]
