"""The compiled engine (`signalfire._core.Core`) behind a typed Python API.

Rules are loaded and checked in Python (which owns `file:line` errors) and handed to the core
as JSON; the core decodes raw record values, selects, detects and runs the alert lifecycle, and
hands back alerts as plain tuples that become the `Alert`s `alerting/` renders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from signalfire._core import Core
from signalfire.engine.alert import Action, Alert, Evidence, make_alert
from signalfire.engine.settings import EngineSettings
from signalfire.events import DeadLetterReason
from signalfire.rulecounts import RuleCounts
from signalfire.rules.model import AllOf, AnyOf, Cond, Filter, Rule


def _number_ir(value: Any) -> Any:
    """A filter argument as JSON: the floats JSON has no number for (YAML's `.inf`, `.nan`)
    go tagged; integers are within JSON's 64 bits (the YAML loader refuses larger ones)."""
    if value.__class__ is float and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _arg_ir(arg: Any) -> Any:
    if isinstance(arg, tuple | list):
        return [_number_ir(a) for a in arg]
    return _number_ir(arg)


def filter_ir(node: Filter) -> dict[str, Any]:
    if isinstance(node, Cond):
        return {"kind": "cond", "path": list(node.path), "op": node.op, "arg": _arg_ir(node.arg)}
    if isinstance(node, AllOf):
        return {"kind": "all", "items": [filter_ir(x) for x in node.items]}
    if isinstance(node, AnyOf):
        return {"kind": "any", "items": [filter_ir(x) for x in node.items]}
    return {"kind": "not", "item": filter_ir(node.item)}


def rule_ir(rule: Rule) -> dict[str, Any]:
    """A checked rule as the core reads it."""
    d = rule.detect
    return {
        "id": rule.id,
        "version": rule.version,
        "where": filter_ir(rule.where),
        "group_by": [list(p) for p in rule.group_by],
        "detect": {
            "type": d.type,
            "window_ms": d.window_ms,
            "bucket_ms": d.bucket_ms,
            "aggregate": d.aggregate,
            "field": list(d.field) if d.field is not None else None,
            "op": d.op,
            "threshold": float(d.threshold),
            "numerator": filter_ir(d.numerator) if d.numerator is not None else None,
            "min_count": d.min_count,
            "factor": float(d.factor),
            "baseline_windows": d.baseline_windows,
            "direction": d.direction,
            "baseline": d.baseline,
            "seasonality_ms": d.seasonality_ms,
            "lookback_ms": d.lookback_ms,
            "warmup_ms": d.warmup_ms,
            "steps": [
                {"where": filter_ir(s.where), "count": s.count, "absent": s.absent} for s in d.steps
            ],
            "within_ms": d.within_ms,
        },
        "for_ms": rule.for_ms,
        "resolve_after_ms": rule.resolve_after_ms,
        "throttle_ms": rule.throttle_ms,
        "evidence_top": [list(p) for p in rule.counted_fields],
        "max_groups": rule.max_groups,
    }


def _rules_json(rules: Sequence[Rule]) -> bytes:
    return orjson.dumps([rule_ir(r) for r in rules])


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that is not a usable event: its position in the batch, why, and the text of
    the dead-letter `error` header."""

    index: int
    reason: DeadLetterReason
    message: str


@dataclass(frozen=True, slots=True)
class Processed:
    alerts: list[Alert]
    dead_letters: list[DeadLetter]
    late: int
    # With routing (`route_to`), per family: per repartition partition, the bodies of the
    # records to forward (in the routing's form); per family rule, the late events it would
    # have read.
    routed: list[list[list[bytes]]]
    family_late: list[list[int]]


@dataclass(frozen=True, slots=True)
class Merged:
    """A family partition's step: its alerts, the records that were not repartition records,
    and how many events the merge released to the engine."""

    alerts: list[Alert]
    dead_letters: list[DeadLetter]
    released: int


# How an input partition writes forwarded events: each in a binary form its family reads
# without parsing JSON again, or as JSON, the only form versions before it read. Family
# partitions read both.
RepartitionFormat = Literal["binary", "json"]


@dataclass(frozen=True, slots=True)
class Route:
    """A family of rules behind a repartition topic, and the event fields forwarded to it."""

    name: str
    rules: tuple[Rule, ...]
    fields: tuple[str, ...]


class CoreEngine:
    """The engine over raw record values: `process`, `advance`, `flush`, `reload`."""

    def __init__(
        self,
        rules: Sequence[Rule],
        settings: EngineSettings | None = None,
        saved: bytes | None = None,
    ) -> None:
        """With `saved` (from `save()`), the engine takes over that state: rules whose id and
        version are unchanged keep theirs. A state it cannot read raises SnapshotError."""
        self.settings = settings or EngineSettings()
        self.rules = tuple(rules)
        rules_json = _rules_json(self.rules)
        settings_json = orjson.dumps(
            {
                "allowed_lateness_ms": self.settings.allowed_lateness_ms,
                "max_groups": self.settings.max_groups,
                "sample_ids": self.settings.sample_ids,
                "threads": self.settings.threads,
            }
        )
        if saved is None:
            self.core = Core(rules_json, settings_json)
        else:
            self.core = Core.restore(rules_json, settings_json, saved)

    def save(self) -> bytes:
        """The engine's state in the versioned snapshot format (docs/worker.md)."""
        return self.core.save()

    def __reduce__(self) -> tuple[type[CoreEngine], tuple[tuple[Rule, ...], EngineSettings, bytes]]:
        return (CoreEngine, (self.rules, self.settings, self.save()))

    def reload(self, rules: Sequence[Rule]) -> None:
        """Switch to a new rule set; rules whose id and version are unchanged keep their state."""
        self.core.reload(_rules_json(rules))
        self.rules = tuple(rules)

    def route_to(
        self,
        routes: Sequence[Route],
        partitions: int,
        record_limit: int,
        form: RepartitionFormat = "binary",
    ) -> None:
        """Forward on-time events to these families from now on (an input partition), written
        in `form` (`streams/repartition.py` frames the records)."""
        families = [
            {"name": r.name, "rules": [rule_ir(x) for x in r.rules], "fields": list(r.fields)}
            for r in routes
        ]
        self.core.set_routing(orjson.dumps(families), partitions, record_limit, form)

    def process(self, records: list[bytes]) -> Processed:
        alerts, dead, late, routed, family_late = self.core.process(records)
        return Processed(
            self._alerts(alerts),
            [DeadLetter(n, DeadLetterReason(reason), text) for n, reason, text in dead],
            late,
            routed,
            family_late,
        )

    def merge_from(self, sources: int) -> None:
        """Read repartition records from `sources` input partitions from now on."""
        self.core.merge_from(sources)

    def process_forwarded(
        self, records: list[tuple[int, bytes]], refill: tuple[int, int] | None = None
    ) -> Merged:
        """Apply repartition records (offset, value): their events join the event-time merge;
        those every source has passed are applied in order, and the clock moves to the merge
        frontier. Events of records before `refill[0]` at or before `refill[1]` were applied
        before a restore and are skipped."""
        alerts, dead, released = self.core.process_forwarded(records, refill)
        return Merged(
            self._alerts(alerts),
            [DeadLetter(n, DeadLetterReason(reason), text) for n, reason, text in dead],
            released,
        )

    def safe_offset(self, next_offset: int) -> int:
        """Offset to commit on a family's partition: the oldest record whose events wait."""
        return self.core.safe_offset(next_offset)

    @property
    def frontier(self) -> int | None:
        """Event time every source has passed (a family partition, once all reported)."""
        return self.core.frontier

    @property
    def buffered(self) -> int:
        """Events waiting in the merge for every source to pass them."""
        return self.core.buffered

    def advance(self, now: int) -> list[Alert]:
        """Move the stream clock to `now` without events: windows drain, timers fire."""
        return self._alerts(self.core.advance(now))

    def flush(self) -> list[Alert]:
        """End of input: the watermark becomes the highest event time seen."""
        return self._alerts(self.core.flush())

    @property
    def now(self) -> int:
        return self.core.now

    @property
    def watermark(self) -> int:
        return self.core.watermark

    @property
    def late(self) -> int:
        return self.core.late

    def counts(self) -> list[RuleCounts]:
        """What each rule did since the engine was made, in rule order."""
        return [RuleCounts(*c) for c in self.core.stats()]

    def group_counts(self) -> dict[str, int]:
        return {r.id: n for r, n in zip(self.rules, self.core.group_counts(), strict=True)}

    def _alerts(self, raw: list[Any]) -> list[Alert]:
        out = []
        for n, action, key, at, ev in raw:
            rule = self.rules[n]
            value, start, end, ids, top, extra, since, counted = ev
            evidence = Evidence(
                value=value,
                window_start=start,
                window_end=end,
                sample_event_ids=ids,
                top={k: [(v, c) for v, c in pairs] for k, pairs in top.items()},
                extra=extra,
                counted_since=since,
                counted_events=counted,
            )
            group = tuple(zip(rule.group_names, key, strict=True))
            act: Action = "trigger" if action == "trigger" else "resolve"
            out.append(make_alert(rule, act, group, at, evidence))
        return out
