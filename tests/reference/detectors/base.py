"""What every detector shares: selection, the lifecycle, time catch-up, samples, evidence.

A subclass implements `apply` (the per-event loop over its selected events) and, if it
keeps time-driven state, `next_drain`/`drain` (window buckets leaving the window, in stream
time) and `next_timer`/`fire` (deadlines on the watermark: absence, sequences).
"""

from __future__ import annotations

from typing import Any, ClassVar

from signalfire.engine.alert import Evidence
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER, BatchClock
from tests.reference.events import Event
from tests.reference.filters import Selection, SelectSpec
from tests.reference.jsonkey import key_of, plain
from tests.reference.lifecycle import GroupKey, Lifecycle, Policy, Transition
from tests.reference.stats import RuleStats

TOP_VALUES_PER_FIELD = 50
TOP_SHOWN = 5


def _get_path(event: Event, path: tuple[str, ...]) -> Any:
    value: Any = event
    for part in path:
        if value.__class__ is not dict:
            return None
        value = value.get(part)
    return value


class Detector:
    kind: ClassVar[str] = ""

    def __init__(self, rule: Rule, settings: EngineSettings) -> None:
        self.rule = rule
        self.settings = settings
        self.cap = rule.max_groups or settings.max_groups
        self.lc = Lifecycle(
            Policy(rule.for_ms, rule.resolve_after_ms, rule.throttle_ms),
            self.evidence_at,
            self.timer_added,
        )
        self.stats = RuleStats()
        self.spec = self.spec_for(rule)
        self.emitted: list[tuple[int, Transition]] = []
        self.samples: dict[GroupKey, list[str]] = {}
        self.tops: dict[GroupKey, dict[tuple[str, ...], dict[Any, int]]] = {}
        # per group: [event time of the first counted event, events counted]
        self.counted: dict[GroupKey, list[int]] = {}
        self.tick = NEVER
        self.lateness = settings.allowed_lateness_ms
        self.now = -NEVER
        self.wm = -NEVER

    # -- to override -----------------------------------------------------------------------
    @classmethod
    def spec_for(cls, rule: Rule) -> SelectSpec:
        return SelectSpec(rule.where, rule.group_by)

    def apply(
        self,
        evs: list[Event],
        idxs: list[int],
        keys: list[Any],
        vals: list[Any],
        clock: BatchClock,
    ) -> None:
        raise NotImplementedError

    def next_drain(self) -> int:
        """Stream time at which window state next changes by itself."""
        return NEVER

    def drain(self, t: int) -> None:
        """Apply every window change due at stream time `t`."""

    def next_timer(self) -> int:
        """Watermark at which a detector deadline next falls due."""
        return NEVER

    def fire(self, wm: int) -> None:
        """Fire detector deadlines due at or before watermark `wm`."""

    def evidence_at(self, key: GroupKey, at: int) -> Evidence:
        return Evidence(sample_event_ids=self.sample_ids(key), top=self.top_of(key))

    def counted_span(self, key: GroupKey) -> tuple[int | None, int]:
        """(first counted event time, events counted) behind the group's samples and top."""
        span = self.counted.get(key)
        return (span[0], span[1]) if span is not None else (None, 0)

    def group_count(self) -> int:
        return 0

    def forget(self, key: GroupKey) -> None:
        self.samples.pop(key, None)
        self.tops.pop(key, None)
        self.counted.pop(key, None)

    def timer_added(self, due: int) -> None:
        """A lifecycle timer was set: wake up when the stream clock gets there."""
        self.tick = min(self.tick, due)

    # -- driving ---------------------------------------------------------------------------
    def process(self, evs: list[Event], selection: Selection, clock: BatchClock) -> None:
        """Apply this rule's selected events of a batch, then catch up to the batch's end."""
        idxs, keys, vals = selection
        if idxs:
            self.stats.matches += len(idxs)
            self.apply(evs, idxs, keys, vals, clock)
        self.catch_up(clock.final_now, clock.final_wm, clock)

    def reach(self, i: int, clock: BatchClock) -> int:
        """Bring the rule to accepted event `i` of the batch: what fell due before the event
        happens first, and what the event pages or sets goes at its position. Returns the
        stream clock at the event."""
        now = clock.nows[i]
        if now >= self.tick:
            self.catch_up(now, now - clock.lateness, clock)
        self.lc.seq = clock.seq0 + i
        return now

    def catch_up(self, now: int, wm: int, clock: BatchClock) -> None:
        """Run every drain and deadline up to stream time `now` / watermark `wm`, in event-time
        order: lifecycle timers and window drains on the stream clock, detector deadlines on
        the watermark; at equal event times a deadline goes before a drain. Each step goes at
        the position where the stream clock reached its time (a deadline: its time plus the
        lateness), and what it pages no earlier than what set the timer that fired."""
        lateness = clock.lateness
        lc = self.lc

        def position(at: int) -> int:
            return clock.seq_for_now(at) if at <= now else clock.end

        while True:
            nd = self.next_drain()
            lt = lc.next_due()
            lt = NEVER if lt is None else lt
            dt = self.next_timer()
            if lt <= now and lt <= nd and (lt <= dt or dt > wm):
                seq = lc.seq = position(lt)
                self.now = max(self.now, lt)
                lc.fire_due(lt)
            elif dt <= wm and dt <= nd:
                seq = lc.seq = position(dt + lateness)
                self.wm = dt
                self.fire(dt)
            elif nd <= now:
                seq = lc.seq = position(nd)
                self.now = nd
                self.drain(nd)
            else:
                break
            self.collect(seq)
        self.now = max(self.now, now)
        self.wm = max(self.wm, wm)
        lc.forget_throttles(wm)
        self.tick = self._next_tick()

    def _next_tick(self) -> int:
        lt = self.lc.next_due()
        return min(
            self.next_drain(),
            NEVER if lt is None else lt,
            self.next_timer() + self.lateness,
        )

    def collect(self, seq: int) -> None:
        out = self.lc.out
        if out:
            for floor, tr in out:
                if tr.action == "trigger":
                    self.stats.triggers += 1
                else:
                    self.stats.resolves += 1
                self.emitted.append((max(seq, floor), tr))
            out.clear()

    # -- evidence helpers ------------------------------------------------------------------
    def note(self, key: GroupKey, event: Event) -> None:
        """Remember a matching event of the group for evidence (ids, top values)."""
        span = self.counted.get(key)
        if span is None:
            self.counted[key] = [event["ts"], 1]
        else:
            span[1] += 1
            span[0] = min(span[0], event["ts"])
        s = self.samples.get(key)
        eid = event.get("event_id")
        if s is None:
            self.samples[key] = [eid]  # type: ignore[list-item]
        else:
            s.append(eid)  # type: ignore[arg-type]
            if len(s) > 2 * self.settings.sample_ids:
                del s[: -self.settings.sample_ids]
        if self.rule.counted_fields:
            self._count_top(key, event)

    def _count_top(self, key: GroupKey, event: Event) -> None:
        per_field = self.tops.get(key)
        if per_field is None:
            per_field = self.tops[key] = {p: {} for p in self.rule.counted_fields}
        count_top(per_field, event)

    def event_top(self, event: Event) -> dict[str, list[tuple[Any, int]]]:
        """`evidence.top` of an occurrence that is one event: its own values."""
        if not self.rule.counted_fields:
            return {}
        per_field: TopCounts = {p: {} for p in self.rule.counted_fields}
        count_top(per_field, event)
        return shown_top(per_field)

    def sample_ids(self, key: GroupKey) -> tuple[str, ...]:
        return tuple(self.samples.get(key, ())[-self.settings.sample_ids :])

    def top_of(self, key: GroupKey) -> dict[str, list[tuple[Any, int]]]:
        per_field = self.tops.get(key)
        return shown_top(per_field) if per_field else {}


TopCounts = dict[tuple[str, ...], dict[Any, int]]


def count_top(per_field: TopCounts, event: Event) -> None:
    """Count the event's values of the `evidence.top` fields (at most TOP_VALUES_PER_FIELD
    distinct values each: later new values are not counted)."""
    for path, counts in per_field.items():
        value = _get_path(event, path)
        if value is None or value.__class__ in (dict, list):
            continue
        value = key_of(value)
        if value in counts:
            counts[value] += 1
        elif len(counts) < TOP_VALUES_PER_FIELD:
            counts[value] = 1


def shown_top(per_field: TopCounts) -> dict[str, list[tuple[Any, int]]]:
    """The TOP_SHOWN most frequent values per field, most frequent first, then by text."""
    return {
        ".".join(path): [
            (plain(v), n)
            for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP_SHOWN]
        ]
        for path, counts in per_field.items()
        if counts
    }
