"""A repartition partition's step: its records into the event-time merge, then to the family's
engine the events that every input partition has passed (the compiled core does both:
`CoreEngine.process_forwarded`).

Input partitions forward only events on time in their own order, never older than their last
watermark, so nothing older than the merge frontier comes. Should it (a record written by an
older version), it is late whatever the batching: applied now it would be judged by a clock
that depends on where the batch that read it happened to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from streams.emit import Emitter
from streams.outputs import Outputs
from streams.records import Record, rejected

if TYPE_CHECKING:
    from streams.work import Work


def merge_step(out: Outputs, work: Work, records: Sequence[Record], *, emitter: Emitter) -> None:
    refill = work.refill
    if refill is not None and records[0].offset >= refill[0]:
        # Read again after a restore up to here: the snapshot's engine had applied the events
        # at or before the merge frontier of then.
        refill = work.refill = None
    engine = work.engine
    forwarded = [(r.offset, r.value or b"") for r in records]
    step = emitter.run(
        out, engine, work.page_log, partial(engine.process_forwarded, forwarded, refill)
    )
    out.dead.extend(rejected(records, list(range(len(records))), step.dead_letters))
    out.decoded += step.released
