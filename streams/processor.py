"""The worker's core without Kafka I/O: records of assigned partitions in, records out.

One engine per assigned partition: input partitions run the rules grouped by the partition
key and forward events to repartition topics for the other families; repartition partitions
run their family's rules. Partitions that stay idle are moved forward in event time to the
furthest partition of this worker, so absence and resolve timers keep firing.

Beside it: a repartition partition's step (streams/families.py), snapshots and the replay
after a take-over (streams/recovery.py), an engine step's pages (streams/emit.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from alerting.redact import Redaction
from signalfire._core import SnapshotError
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine, Route
from signalfire.engine.settings import EngineSettings
from signalfire.rulecounts import RuleCounts
from signalfire.rules.model import Rule
from streams.config import WorkerConfig
from streams.emit import Emitter, PageLog
from streams.families import merge_step
from streams.outputs import Outputs, Partition
from streams.records import DeadLetter, Record, rejected, usable_values
from streams.recovery import (
    CHECKPOINT_MOVES,
    MAX_MOVES,
    Capture,
    capture_of,
    record_move,
    replay_run,
    replayed,
    replaying,
    resume,
)
from streams.repartition import BATCH_RECORD_BYTES, encode_batch
from streams.state import Move, Snapshot, SnapshotRefused
from streams.topology import DIRECT, Topology, build_topology
from streams.work import Work, WorkerStats


def _offset(dead: DeadLetter) -> int:
    return int(dict(dead.headers)["source_offset"])


class Processor:
    def __init__(
        self, config: WorkerConfig, rules: Sequence[Rule], wall: Callable[[], float]
    ) -> None:
        self.config = config
        self.wall = wall
        self.emitter = Emitter(Redaction.of(config.redact))
        self.settings = EngineSettings(
            allowed_lateness_ms=config.lateness_ms,
            max_groups=config.max_groups,
            threads=config.core_threads,
        )
        self.works: dict[Partition, Work] = {}
        # Partitions of the input topic (and so of each repartition topic); set at start.
        self.partitions = 1
        self.set_rules(rules)

    # -- rules -----------------------------------------------------------------------------
    def set_rules(self, rules: Sequence[Rule]) -> None:
        self.rules = self.emitter.rules = {r.id: r for r in rules}
        self.topology: Topology = build_topology(rules)
        for work in self.works.values():
            self._configure(work)

    def _configure(self, work: Work) -> None:
        """The partition's engine on the current rules: an input partition's also forwards to
        the families, a family partition's merges what every input partition forwards."""
        work.engine.reload(self.topology.rules_for(work.family))
        if work.family == DIRECT:
            routes = [Route(f.name, f.rules, f.fields) for f in self.topology.families]
            work.engine.route_to(
                routes, self.partitions, BATCH_RECORD_BYTES, self.config.repartition_format
            )
        else:
            work.engine.merge_from(self.partitions)

    def topics(self) -> list[str]:
        """Topics this rule set consumes: the input and one per repartition family."""
        return [self.config.events_topic] + [
            self.config.repartition_topic(f.name) for f in self.topology.families
        ]

    def family_of_topic(self, topic: str) -> str | None:
        if topic == self.config.events_topic:
            return DIRECT
        for f in self.topology.families:
            if self.config.repartition_topic(f.name) == topic:
                return f.name
        return None

    # -- assignment ------------------------------------------------------------------------
    def assign(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            family = self.family_of_topic(tp[0])
            if family is None or tp in self.works:
                continue
            engine = CoreEngine(self.topology.rules_for(family), self.settings)
            self.works[tp] = work = Work(family, engine, self.wall())
            self._configure(work)

    def revoke(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            self.works.pop(tp, None)

    def capture(self, tp: Partition) -> Capture | None:
        """The partition's snapshot but for its engine's state (`Capture.take` saves it):
        None if it has no state to snapshot now."""
        work = self.works.get(tp)
        return None if work is None else capture_of(work)

    def restore(
        self,
        tp: Partition,
        snapshot: Snapshot,
        committed: int | None,
        page_log: PageLog,
        moves: Sequence[Move] = (),
    ) -> int:
        """Take over a partition from its snapshot and the clock moves committed since;
        returns the offset to consume from. SnapshotRefused if its engine state is not one this
        engine reads."""
        state = snapshot.work
        try:
            engine = CoreEngine(
                self.topology.rules_for(state.family), self.settings, snapshot.engine
            )
        except SnapshotError as exc:
            raise SnapshotRefused(str(exc)) from None
        work = Work(
            state.family, engine, self.wall(), state.next_offset, state.marked,
            refill=state.refill, moves=list(state.moves),
        )  # fmt: skip
        self._configure(work)
        resume(work, snapshot.offset, committed, page_log, moves)
        self.works[tp] = work
        return snapshot.offset

    def rebuild(
        self, tp: Partition, committed: int | None, page_log: PageLog, moves: Sequence[Move] = ()
    ) -> None:
        """Take over a partition that has no snapshot yet: from the start of its topic, up to
        the committed offset as a replay, making its committed clock moves again."""
        self.assign([tp])
        resume(self.works[tp], 0, committed, page_log, moves)

    def positions(self) -> dict[Partition, int]:
        """Offsets safe to commit: everything read, except records still waiting to merge."""
        found = {}
        for tp, w in self.works.items():
            if w.next_offset is None or replaying(w):
                continue  # nothing read yet, or replaying what is committed already
            found[tp] = w.engine.safe_offset(w.next_offset)
        return found

    # -- records ---------------------------------------------------------------------------
    def process(self, tp: Partition, records: Sequence[Record]) -> Outputs:
        work = self.works.get(tp)
        if work is None or not records:
            return Outputs(consumed=len(records))
        out = Outputs()
        start = 0
        while start < len(records):
            self._make_moves_again(out, work, records[start].offset)
            end, replay = replay_run(work, records, start)
            part = self._process(tp, work, records[start:end])
            if replay:
                part.drop_sent()  # replay after a restore: same processing
                replayed(work, records[end - 1].offset)
            out.extend(part)
            start = end
        self._make_moves_again(out, work, records[-1].offset + 1)
        return out

    def _make_moves_again(self, out: Outputs, work: Work, offset: int) -> None:
        """After a restore, the clock moves committed at or before `offset`: their pages are
        in the page log, their watermarks in the repartition topics already."""
        while work.replay_moves and work.replay_moves[0][0] <= offset:
            _, clock = work.replay_moves.pop(0)
            self._run(out, work, partial(work.engine.advance, clock))
            work.marked = max(work.marked, work.engine.watermark)

    def _process(self, tp: Partition, work: Work, records: Sequence[Record]) -> Outputs:
        out = Outputs(consumed=len(records))
        work.last_active = self.wall()
        work.next_offset = records[-1].offset + 1
        if work.family != DIRECT:
            merge_step(out, work, records, emitter=self.emitter)
            return out
        values, positions, dead = usable_values(records, self.config.max_record_bytes)
        # The engine decides lateness here, in the partition's own order, for every rule,
        # forwarded ones included: this order is the same in every run, however the records are
        # batched and whenever the other partitions are read. Forwarded, a late event would be
        # judged again by the merge, whose clock depends on how far the others had come.
        step = self.emitter.run(
            out, work.engine, work.page_log, partial(work.engine.process, values)
        )
        out.dead = sorted(dead + rejected(records, positions, step.dead_letters), key=_offset)
        out.decoded = len(values) - len(step.dead_letters)
        for fam, counts in zip(self.topology.families, step.family_late, strict=True):
            for rule, late in zip(fam.rules, counts, strict=True):
                if late:
                    out.count(rule.id, RuleCounts(late=late))
        self._mark(out, tp, work, step.routed)
        return out

    def _mark(
        self,
        out: Outputs,
        tp: Partition,
        work: Work,
        routed: Sequence[Sequence[Sequence[bytes]]] = (),
    ) -> None:
        """One record into every repartition partition: its events of this batch, if any, and
        how far this input partition has come (its watermark)."""
        watermark = work.engine.watermark
        forwarding = any(bodies for family in routed for bodies in family)
        if not self.topology.families or (not forwarding and watermark <= work.marked):
            return
        promised, work.marked = work.marked, max(work.marked, watermark)
        for n, fam in enumerate(self.topology.families):
            topic = self.config.repartition_topic(fam.name)
            for part in range(self.partitions):
                bodies = routed[n][part] if routed else ()
                for value in encode_batch(
                    tp[1], watermark, bodies, promised=promised, form=self.config.repartition_format
                ):
                    out.forwards.append((topic, part, value))

    def tick(self, pending: Iterable[Partition] = ()) -> dict[Partition, Outputs]:
        """Move idle partitions forward to the furthest event time of this worker.

        A partition is idle when it has had no record for `idle_timeout` and nothing is
        waiting to be read from it (`pending` lists those that are behind or paused).
        """
        outs: dict[Partition, Outputs] = {}
        if not self.works:
            return outs
        now = self.wall()
        busy = set(pending)
        furthest = max(w.engine.now for w in self.works.values())
        idle_s = self.config.idle_timeout_ms / 1000
        for tp, work in self.works.items():
            if work.family != DIRECT:
                continue
            if work.replay_moves:
                # Moves a restore makes again once the records before them are applied: the
                # last ones may come after the last record.
                self._make_moves_again(outs.setdefault(tp, Outputs()), work, work.next_offset or 0)
                continue
            if tp in busy or work.replay_until is not None or len(work.moves) >= MAX_MOVES:
                continue
            if now - work.last_active >= idle_s and work.engine.now < furthest:
                out = outs[tp] = Outputs()
                self._run(out, work, partial(work.engine.advance, furthest))
                self._mark(out, tp, work)
                record_move(work)
        return outs

    def moves(self, tp: Partition) -> list[Move]:
        """The partition's clock moves since its last snapshot, to commit with its offset."""
        work = self.works.get(tp)
        return list(work.moves) if work is not None else []

    def checkpointed(self, tp: Partition, held: list[Move]) -> None:
        """A snapshot of the partition is committed: it holds the moves `held` (those made up
        to when it was taken; those made since are still to commit with an offset)."""
        work = self.works.get(tp)
        if work is not None:
            work.moves = [m for m in work.moves if m not in held]

    def checkpoints_wanted(self) -> set[Partition]:
        return {tp for tp, w in self.works.items() if len(w.moves) >= CHECKPOINT_MOVES}

    def _run(self, out: Outputs, work: Work, step: Callable[[], list[Alert]]) -> None:
        self.emitter.run(out, work.engine, work.page_log, step)

    def group_counts(self) -> dict[str, int]:
        """Groups tracked per rule over every partition of this worker."""
        counts = dict.fromkeys(self.rules, 0)
        for work in self.works.values():
            for rule_id, n in work.engine.group_counts().items():
                counts[rule_id] = counts.get(rule_id, 0) + n
        return counts

    def input_clocks(self) -> dict[Partition, tuple[int, int | None]]:
        """(stream clock, next offset) of each assigned input partition."""
        return {
            tp: (w.engine.now, w.next_offset) for tp, w in self.works.items() if w.family == DIRECT
        }

    def stats(self) -> WorkerStats:
        return {
            "partitions": sorted(f"{t}[{p}]" for t, p in self.works),
            "rules": len(self.rules),
            "families": [f.name for f in self.topology.families],
            "late": {f"{t}[{p}]": w.engine.late for (t, p), w in sorted(self.works.items())},
            "clock": {f"{t}[{p}]": w.engine.now for (t, p), w in sorted(self.works.items())},
        }
