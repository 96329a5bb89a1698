"""A repartition partition's step: its records into the event-time merge, then to the family's
engine the events that every input partition has passed.

Input partitions forward only events on time in their own order, never older than their last
watermark, so nothing older than the merge frontier comes. Should it (a record written by an
older version), it is late whatever the batching: applied now it would be judged by a clock
that depends on where the batch that read it happened to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from signalfire.events import DeadLetterReason
from streams.emit import Emitter
from streams.lateness import count_late
from streams.merge import Merger
from streams.outputs import Outputs
from streams.records import Record, dead_letter
from streams.repartition import BadBatch, decode_batch
from streams.topology import Family

if TYPE_CHECKING:
    from streams.processor import Work


def merge_step(
    out: Outputs,
    work: Work,
    merger: Merger,
    records: Sequence[Record],
    *,
    family: Family | None,
    emitter: Emitter,
) -> None:
    """`family` is None once a reload has dropped it: the partition reads on until revoked."""
    refill = work.refill
    if refill is not None and records[0].offset >= refill[0]:
        refill = work.refill = None
    for r in records:
        try:
            batch = decode_batch(r.value)
        except BadBatch as exc:
            out.dead.append(
                dead_letter(
                    r.key, r.value, f"bad repartition batch: {exc}"[:200],
                    DeadLetterReason.OTHER, topic=r.topic, partition=r.partition, offset=r.offset,
                )
            )  # fmt: skip
            continue
        events = batch.events
        if refill is not None and r.offset < refill[0]:
            # Read again after a restore: the snapshot's engine has applied these already.
            events = [e for e in events if e["ts"] > refill[1]]
        late = merger.add_record(events, r.offset, merger.frontier)
        if late and family is not None:
            count_late(out, family, late)
        merger.mark(batch.source, batch.watermark)
    released = merger.release()
    out.decoded += len(released)
    engine = work.engine
    if released:
        emitter.run(out, engine, work.page_log, partial(engine.process, released))
    frontier = merger.frontier
    if frontier is not None and frontier > engine.now:
        # Every input partition is past the frontier: the clock moves there, as if an event
        # at the frontier had come. Not further: events after the frontier are still to
        # be released, and a clock ahead of them would judge their windows at the wrong
        # time (a backtest sees them with the clock at their own event time).
        emitter.run(out, engine, work.page_log, partial(engine.advance, frontier))
