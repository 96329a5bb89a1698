"""The reference engine: a rule set over batches of checked events, in event time, no I/O, no
clock.

`process(batch)` applies events in arrival order; `advance(now)` moves the stream clock
without events (an idle stream in live mode); `flush()` ends the input (the watermark
catches up with the highest event time seen, no further). Each returns the alerts that
became due, in a deterministic order that does not depend on how the input was batched.
"""

from __future__ import annotations

from collections.abc import Sequence

from signalfire.engine.alert import Alert, make_alert
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.clock import NEVER, BatchClock
from tests.reference.detectors import Detector, make_detector
from tests.reference.events import Event
from tests.reference.filters import Selector
from tests.reference.jsonkey import plain
from tests.reference.lifecycle import Transition


class Engine:
    def __init__(self, rules: Sequence[Rule], settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.rules = tuple(rules)
        self.detectors: list[Detector] = [make_detector(r, self.settings) for r in self.rules]
        self.select = Selector([d.spec for d in self.detectors])
        self.now = -NEVER
        self.seq = 0
        self.late = 0
        self.late_by_rule = [0] * len(self.rules)

    def reload(self, rules: Sequence[Rule]) -> None:
        """Switch to a new rule set; rules whose id and version are unchanged keep their state."""
        kept = {(d.rule.id, d.rule.version): d for d in self.detectors}
        self.rules = tuple(rules)
        self.detectors = [
            kept.get((r.id, r.version)) or make_detector(r, self.settings) for r in self.rules
        ]
        self.select = Selector([d.spec for d in self.detectors])
        old_late = {d.rule.id: n for d, n in zip(kept.values(), self.late_by_rule, strict=False)}
        self.late_by_rule = [old_late.get(r.id, 0) for r in self.rules]

    @property
    def watermark(self) -> int:
        return self.now - self.settings.allowed_lateness_ms

    def process(self, events: Sequence[Event]) -> list[Alert]:
        lateness = self.settings.allowed_lateness_ms
        now = self.now
        accepted: list[Event] = []
        nows: list[int] = []  # the stream clock at each accepted event
        late: list[Event] = []
        for e in events:
            if e["ts"] < now - lateness:
                late.append(e)
                continue
            now = max(now, e["ts"])
            accepted.append(e)
            nows.append(now)
        self.now = now
        if late:
            self._count_late(late)
        clock = BatchClock(self.seq, nows, lateness, now, now - lateness)
        for det, selection in zip(self.detectors, self.select(accepted), strict=True):
            det.process(accepted, selection, clock)
        self.seq += len(accepted)
        return self._gather()

    def advance(self, now: int) -> list[Alert]:
        """Move the stream clock to `now` without events: windows drain, timers fire."""
        self.now = max(self.now, now)
        return self._catch_up(self.now, self.watermark)

    def flush(self) -> list[Alert]:
        """End of input: the watermark becomes the highest event time seen."""
        return self._catch_up(self.now, self.now)

    def _catch_up(self, now: int, wm: int) -> list[Alert]:
        clock = BatchClock(self.seq, [], self.settings.allowed_lateness_ms, now, wm)
        for det in self.detectors:
            det.catch_up(now, wm, clock)
        return self._gather()

    def _count_late(self, late: list[Event]) -> None:
        self.late += len(late)
        for n, (idxs, _, _) in enumerate(self.select(late)):
            self.late_by_rule[n] += len(idxs)

    def _gather(self) -> list[Alert]:
        tagged: list[tuple[int, int, Transition]] = []
        for n, det in enumerate(self.detectors):
            if det.emitted:
                tagged.extend((seq, n, tr) for seq, tr in det.emitted)
                det.emitted.clear()
        tagged.sort(key=lambda x: (x[0], x[1]))
        return [self._alert(n, tr) for _, n, tr in tagged]

    def _alert(self, n: int, tr: Transition) -> Alert:
        rule = self.rules[n]
        names = rule.group_names
        values = tr.key if len(names) != 1 else (tr.key,)
        group = tuple((name, plain(v)) for name, v in zip(names, values, strict=True))
        return make_alert(rule, tr.action, group, tr.at, tr.evidence)

    def group_counts(self) -> dict[str, int]:
        return {r.id: d.group_count() for r, d in zip(self.rules, self.detectors, strict=True)}
