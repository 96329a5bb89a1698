"""The worker's core without Kafka I/O: records of assigned partitions in, records out.

One engine per assigned partition: input partitions run the rules grouped by the partition
key and forward events to repartition topics for the other families; repartition partitions
run their family's rules. Partitions that stay idle are moved forward in event time to the
furthest partition of this worker, so absence and resolve timers keep firing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from functools import partial
from typing import Any, Protocol

from alerting.message import dedup_key, encode, pager_message
from alerting.redact import Redaction
from signalfire.engine import Engine, EngineSettings
from signalfire.engine.alert import Alert
from signalfire.events import Event, EventError
from signalfire.rules.model import Rule
from streams.config import WorkerConfig
from streams.merge import Merger
from streams.records import DeadLetter, dead_letter, decode_value
from streams.repartition import BadBatch, decode_batch, encode_batch, route
from streams.state import Move, Snapshot
from streams.topology import DIRECT, Family, Topology, build_topology

log = logging.getLogger("signalfire.worker")

Partition = tuple[str, int]
# What `Outputs.rule_deltas` counts per rule, in this order.
RULE_COUNTERS = (
    "matches", "triggers", "resolves", "suppressed", "cap_evictions", "late", "partials_dropped",
)  # fmt: skip
LATE = RULE_COUNTERS.index("late")
# Clock moves kept between snapshots: their offset metadata stays far under Kafka's 4 KB limit
# (`offset.metadata.max.bytes`). A partition with `CHECKPOINT_MOVES` of them is snapshotted at
# once; one with `MAX_MOVES` (its snapshots failing) stays where it is rather than make a move
# that a crash could not make again.
CHECKPOINT_MOVES = 16
MAX_MOVES = 32


class Record(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(slots=True)
class Outputs:
    pages: list[tuple[bytes, bytes]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # (topic, partition, value): batches for the repartition topics
    forwards: list[tuple[str, int, bytes]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    consumed: int = 0
    decoded: int = 0
    late: int = 0
    # per rule: [matches, triggers, resolves, suppressed, cap evictions, late] in this call
    rule_deltas: dict[str, list[int]] = field(default_factory=dict)

    def extend(self, other: Outputs) -> None:
        self.pages += other.pages
        self.dead += other.dead
        self.forwards += other.forwards
        self.alerts += other.alerts
        self.consumed += other.consumed
        self.decoded += other.decoded
        self.late += other.late
        for rule_id, delta in other.rule_deltas.items():
            into = self.rule_deltas.setdefault(rule_id, [0] * len(delta))
            for n, d in enumerate(delta):
                into[n] += d


@dataclass(slots=True)
class Work:
    family: str
    engine: Engine
    last_active: float
    next_offset: int | None = None
    merger: Merger | None = None  # repartition partitions only
    marked: int = -(2**62)  # input partitions: the last watermark sent downstream
    # After a restore: records before this offset were processed before, their outputs are
    # already in Kafka; pages in `page_log` were already sent.
    replay_until: int | None = None
    page_log: Counter[tuple[str, str, str]] | None = None
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

    def __setstate__(self, state: Any) -> None:
        # Snapshots written before a field existed restore it at its default.
        slots = state[1] if isinstance(state, tuple) else state
        for f in fields(self):
            if f.name not in slots:
                value = f.default_factory() if f.default_factory is not MISSING else f.default
                object.__setattr__(self, f.name, value)
        for name, value in slots.items():
            object.__setattr__(self, name, value)


def split_late(events: list[Event], now: int, lateness: int) -> tuple[list[Event], list[Event]]:
    """(on time, late), by the engine's rule (Engine.process): an event older than the highest
    event time seen before it, minus the allowed lateness, is late and does not move time."""
    on_time: list[Event] = []
    late: list[Event] = []
    for e in events:
        ts = e["ts"]
        if ts < now - lateness:
            late.append(e)
        else:
            on_time.append(e)
            now = max(now, ts)
    return on_time, late


def _count_late(out: Outputs, family: Family, late: list[Event]) -> None:
    """Count late events against the family's rules that would have looked at them."""
    if not late:
        return
    for rule, (idxs, _, _) in zip(family.rules, family.select(late), strict=True):
        if idxs:
            out.rule_deltas.setdefault(rule.id, [0] * len(RULE_COUNTERS))[LATE] += len(idxs)


def _totals(engine: Engine, n: int) -> tuple[int, int, int, int, int, int, int]:
    det = engine.detectors[n]
    st = det.stats
    return (st.matches, st.triggers, st.resolves, det.lc.suppressed, st.cap_evictions,
            engine.late_by_rule[n], st.partials_dropped)  # fmt: skip


def _replaying(work: Work) -> bool:
    """Still making again what a crashed owner did: nothing to commit or snapshot yet."""
    return work.replay_until is not None or bool(work.replay_moves)


class Processor:
    def __init__(
        self, config: WorkerConfig, rules: Sequence[Rule], wall: Callable[[], float]
    ) -> None:
        self.config = config
        self.wall = wall
        self.redaction = Redaction.of(config.redact)
        self.settings = EngineSettings(
            allowed_lateness_ms=config.lateness_ms, max_groups=config.max_groups
        )
        self.works: dict[Partition, Work] = {}
        # Partitions of the input topic (and so of each repartition topic); set at start.
        self.partitions = 1
        self.set_rules(rules)

    # -- rules -----------------------------------------------------------------------------
    def set_rules(self, rules: Sequence[Rule]) -> None:
        self.rules = {r.id: r for r in rules}
        self.topology: Topology = build_topology(rules)
        for work in self.works.values():
            work.engine.reload(self.topology.rules_for(work.family))

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
            engine = Engine(self.topology.rules_for(family), self.settings)
            merger = None if family == DIRECT else Merger(self.partitions)
            self.works[tp] = Work(family, engine, self.wall(), merger=merger)

    def revoke(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            self.works.pop(tp, None)

    def snapshot(self, tp: Partition, pager_ends: dict[int, int]) -> Snapshot | None:
        work = self.works.get(tp)
        if work is None or work.next_offset is None or _replaying(work):
            return None
        merger = work.merger
        if merger is None:
            # The moves so far are in the state: they are not written with the offsets again.
            return Snapshot(replace(work, moves=[]), work.next_offset, pager_ends)
        if merger.frontier is None or work.refill is not None:
            return Snapshot(work, work.next_offset, pager_ends)
        # A family partition's merge buffer (the last allowed lateness of events) is most of
        # its state, and it is in the topic already: the snapshot leaves it out and starts
        # from the oldest record still buffered, which a restore reads again.
        light = replace(work, merger=merger.without_buffer(), refill=(work.next_offset,
                        merger.frontier))  # fmt: skip
        return Snapshot(light, merger.safe_offset(work.next_offset), pager_ends)

    def restore(
        self,
        tp: Partition,
        snapshot: Snapshot,
        committed: int | None,
        page_log: Counter[tuple[str, str, str]],
        moves: Sequence[Move] = (),
    ) -> int:
        """Take over a partition from its snapshot and the clock moves committed since;
        returns the offset to consume from."""
        work: Work = snapshot.work
        work.engine.reload(self.topology.rules_for(work.family))
        work.last_active = self.wall()
        work.page_log = page_log
        # Records read before the snapshot are read again to refill the merge buffer: their
        # dead letters are in Kafka already, like those of records up to the committed offset.
        until = max(committed or 0, work.refill[0] if work.refill else 0)
        if until > snapshot.offset:
            work.replay_until = until
        work.moves = list(moves)
        work.replay_moves = [m for m in moves if m[0] >= snapshot.offset]
        self.works[tp] = work
        return snapshot.offset

    def rebuild(
        self,
        tp: Partition,
        committed: int | None,
        page_log: Counter[tuple[str, str, str]],
        moves: Sequence[Move] = (),
    ) -> None:
        """Take over a partition that has no snapshot yet: from the start of its topic, up to
        the committed offset as a replay, making its committed clock moves again."""
        self.assign([tp])
        work = self.works[tp]
        work.page_log = page_log
        work.replay_until = committed or None
        work.moves = list(moves)
        work.replay_moves = list(moves)

    def positions(self) -> dict[Partition, int]:
        """Offsets safe to commit: everything read, except records still waiting to merge."""
        found = {}
        for tp, w in self.works.items():
            if w.next_offset is None or _replaying(w):
                continue  # nothing read yet, or replaying what is committed already
            found[tp] = w.merger.safe_offset(w.next_offset) if w.merger else w.next_offset
        return found

    # -- records ---------------------------------------------------------------------------
    def process(self, tp: Partition, records: Sequence[Record]) -> Outputs:
        work = self.works.get(tp)
        if work is None or not records:
            return Outputs(consumed=len(records))
        out = Outputs()
        start = 0
        while start < len(records):
            first = records[start].offset
            self._make_moves_again(out, work, first)
            until = work.replay_until
            if until is not None and first >= until:
                until = work.replay_until = None  # the records up to it are gone (retention)
            # A run of records up to the end of the replay or the next move to make again.
            bounds = [b for b in (until, work.replay_moves[0][0] if work.replay_moves else None)
                      if b is not None]  # fmt: skip
            end = len(records)
            if bounds:
                bound = min(bounds)
                end = next((n for n in range(start, end) if records[n].offset >= bound), end)
            part = self._process(tp, work, records[start:end])
            if until is not None:
                # Replay after a restore: same processing, outputs already in Kafka dropped.
                part.forwards.clear()
                part.dead.clear()
                if records[end - 1].offset + 1 >= until:
                    work.replay_until = None
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
        if work.merger is not None:
            self._merge(out, work, work.merger, records)
            return out
        events: list[Event] = []
        for r in records:
            try:
                events.append(decode_value(r.value, self.config.max_record_bytes))
            except EventError as exc:
                out.dead.append(
                    dead_letter(
                        r.key, r.value, str(exc), topic=r.topic, partition=r.partition,
                        offset=r.offset,
                    )
                )  # fmt: skip
        out.decoded = len(events)
        routed: dict[str, dict[int, list[Event]]] = {}
        if self.topology.families:
            # Lateness is decided here, in the partition's own order, for every rule: this
            # order is the same in every run, however the records are batched and whenever the
            # other partitions are read. Forwarded, a late event would be judged again by the
            # merge, whose clock depends on how far the other partitions had come.
            on_time, late = split_late(events, work.engine.now, self.settings.allowed_lateness_ms)
            for fam in self.topology.families:
                if parts := route(fam, on_time, self.partitions):
                    routed[fam.name] = parts
                _count_late(out, fam, late)
        self._run(out, work, partial(work.engine.process, events))
        self._mark(out, tp, work, routed)
        return out

    def _merge(self, out: Outputs, work: Work, merger: Merger, records: Sequence[Record]) -> None:
        # None after a reload dropped the family, until the partition is revoked.
        family = next((f for f in self.topology.families if f.name == work.family), None)
        refill = work.refill
        if refill is not None and records[0].offset >= refill[0]:
            refill = work.refill = None
        for r in records:
            try:
                batch = decode_batch(r.value)
            except BadBatch as exc:
                out.dead.append(
                    dead_letter(
                        r.key, r.value, f"bad repartition batch: {exc}"[:200], topic=r.topic,
                        partition=r.partition, offset=r.offset,
                    )
                )  # fmt: skip
                continue
            events = batch.events
            if refill is not None and r.offset < refill[0]:
                events = [e for e in events if e["ts"] > refill[1]]
            # Input partitions forward only events on time in their own order, never older
            # than their last watermark, so nothing older than the frontier comes. Should it
            # (a record written by an older version), it is late whatever the batching:
            # applied now it would be judged by a clock that depends on where the batch
            # that read it happened to start.
            late = merger.add_record(events, r.offset, merger.frontier)
            if late and family is not None:
                _count_late(out, family, late)
            merger.mark(batch.source, batch.watermark)
        released = merger.release()
        out.decoded += len(released)
        engine = work.engine
        if released:
            self._run(out, work, partial(engine.process, released))
        frontier = merger.frontier
        if frontier is not None and frontier > engine.now:
            # Every input partition is past the frontier: the clock moves there, as if an event
            # at the frontier had come. Not further: events after the frontier are still to
            # be released, and a clock ahead of them would judge their windows at the wrong
            # time (a backtest sees them with the clock at their own event time).
            self._run(out, work, partial(engine.advance, frontier))

    def _mark(
        self,
        out: Outputs,
        tp: Partition,
        work: Work,
        routed: dict[str, dict[int, list[Event]]] | None = None,
    ) -> None:
        """One record into every repartition partition: its events of this batch, if any, and
        how far this input partition has come (its watermark)."""
        watermark = work.engine.watermark
        if not self.topology.families or (not routed and watermark <= work.marked):
            return
        work.marked = max(work.marked, watermark)
        for fam in self.topology.families:
            topic = self.config.repartition_topic(fam.name)
            parts = (routed or {}).get(fam.name, {})
            for part in range(self.partitions):
                for value in encode_batch(tp[1], watermark, parts.get(part, [])):
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
            if work.merger is not None:
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
                # Not pending and nothing read: the partition is empty, its offset is 0.
                offset = work.next_offset = work.next_offset or 0
                move = (offset, work.engine.now)
                if work.moves and work.moves[-1][0] == offset:
                    work.moves[-1] = move  # only the last of moves at one offset matters
                else:
                    work.moves.append(move)
        return outs

    def moves(self, tp: Partition) -> list[Move]:
        """The partition's clock moves since its last snapshot, to commit with its offset."""
        work = self.works.get(tp)
        return list(work.moves) if work is not None else []

    def checkpointed(self, tp: Partition) -> None:
        """A snapshot of the partition is committed: it holds the moves made so far."""
        work = self.works.get(tp)
        if work is not None:
            work.moves.clear()

    def checkpoints_wanted(self) -> set[Partition]:
        return {tp for tp, w in self.works.items() if len(w.moves) >= CHECKPOINT_MOVES}

    def _run(self, out: Outputs, work: Work, step: Callable[[], list[Alert]]) -> None:
        """Run one engine step, emit its alerts and count what it did per rule."""
        engine = work.engine
        before = [_totals(engine, n) for n in range(len(engine.detectors))]
        late = engine.late
        self._emit(out, step(), work.page_log)
        out.late += engine.late - late
        for n, det in enumerate(engine.detectors):
            after = _totals(engine, n)
            delta = [a - b for a, b in zip(after, before[n], strict=True)]
            if any(delta):
                into = out.rule_deltas.setdefault(det.rule.id, [0] * len(delta))
                for k, d in enumerate(delta):
                    into[k] += d

    def group_counts(self) -> dict[str, int]:
        """Groups tracked per rule over every partition of this worker."""
        counts = dict.fromkeys(self.rules, 0)
        for work in self.works.values():
            for rule_id, n in work.engine.group_counts().items():
                counts[rule_id] = counts.get(rule_id, 0) + n
        return counts

    def _emit(
        self, out: Outputs, alerts: list[Alert], sent: Counter[tuple[str, str, str]] | None
    ) -> None:
        for alert in alerts:
            rule = self.rules.get(alert.rule_id)
            if rule is None:
                continue
            message: dict[str, Any] = self.redaction.apply(pager_message(rule, alert))
            if sent:
                identity = (message["dedup_key"], alert.action, message["payload"]["timestamp"])
                if sent[identity] > 0:
                    sent[identity] -= 1
                    continue
            out.pages.append((dedup_key(rule.id, alert.group).encode(), encode(message)))
            out.alerts.append(alert)

    def input_clocks(self) -> dict[Partition, tuple[int, int | None]]:
        """(stream clock, next offset) of each assigned input partition."""
        return {
            tp: (w.engine.now, w.next_offset) for tp, w in self.works.items() if w.family == DIRECT
        }

    def stats(self) -> dict[str, Any]:
        return {
            "partitions": sorted(f"{t}[{p}]" for t, p in self.works),
            "rules": len(self.rules),
            "families": [f.name for f in self.topology.families],
            "late": {f"{t}[{p}]": w.engine.late for (t, p), w in sorted(self.works.items())},
            "clock": {f"{t}[{p}]": w.engine.now for (t, p), w in sorted(self.works.items())},
        }
