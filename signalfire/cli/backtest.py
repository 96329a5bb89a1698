"""Backtests: the live engine over files, with a per-rule summary, the incidents its pages make
and a would-have-paged diff (`signalfire.cli.pagediff`).

Pages are rendered and redacted as the worker renders them (always the secret and prompt
fields, plus the configured ones), so a backtest writes what the worker would have sent. Its
live pages (not a shadow rule's) go through the incident correlator as the bridge's would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from alerting.incidents import DEFAULT_WINDOW_MS, Correlator, History, Incident
from alerting.message import pager_message
from alerting.pager import PagerMessage, encode
from alerting.redact import Redaction
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rulecounts import RuleCounts
from signalfire.rules.model import Rule
from signalfire.sources import Lines, ReadStats
from signalfire.timestamps import iso_ms


@dataclass(slots=True)
class RuleSummary:
    rule_id: str
    kind: str
    peak_groups: int
    counts: RuleCounts
    shadow: bool = False


@dataclass(slots=True)
class Incidents:
    """A run's live pages correlated into incidents (alerting.incidents)."""

    window_ms: int = DEFAULT_WINDOW_MS
    pages: int = 0  # live triggers read: the pages on-call would get without incidents
    absorbed: int = 0  # of them, how many a firing parent page absorbed
    incidents: list[Incident] = field(default_factory=list)  # in order of opening


@dataclass(slots=True)
class BacktestResult:
    messages: list[PagerMessage] = field(default_factory=list)
    summaries: list[RuleSummary] = field(default_factory=list)
    events: int = 0
    late: int = 0
    rules: dict[str, Rule] = field(default_factory=dict)  # by id: how to read its pages
    incidents: Incidents = field(default_factory=Incidents)


class Backtest:
    """Feeds batches of record values to one engine and keeps the pager messages it produces;
    with `stats`, the lines it rejects are counted there by their place."""

    def __init__(
        self,
        rules: Sequence[Rule],
        settings: EngineSettings | None = None,
        redaction: Redaction | None = None,
        stats: ReadStats | None = None,
        incident_window_ms: int = DEFAULT_WINDOW_MS,
    ) -> None:
        self.engine = CoreEngine(rules, settings)
        self.rules = {r.id: r for r in rules}
        self.redaction = redaction or Redaction()
        self.stats = stats
        self.incident_window_ms = incident_window_ms
        self.result = BacktestResult(rules=dict(self.rules))
        self._peaks = [0] * len(rules)

    def feed(self, batch: Lines) -> list[PagerMessage]:
        out = self.engine.process(batch.values)
        if self.stats is not None:
            self.stats.count(batch, out.dead_letters)
        self.result.events += len(batch) - len(out.dead_letters)
        messages = self._emit(out.alerts)
        for n, groups in enumerate(self.engine.group_counts().values()):
            self._peaks[n] = max(self._peaks[n], groups)
        return messages

    def finish(self) -> BacktestResult:
        self._emit(self.engine.flush())
        self.result.late = self.engine.late
        counts = self.engine.counts()
        for rule, peak, rule_counts in zip(self.engine.rules, self._peaks, counts, strict=True):
            self.result.summaries.append(
                RuleSummary(rule.id, rule.detect.type, peak, rule_counts, rule.shadow)
            )
        self.result.incidents = correlate(self.result.messages, self.incident_window_ms)
        return self.result

    def _emit(self, alerts: list[Alert]) -> list[PagerMessage]:
        messages = [pager_message(self.rules[a.rule_id], a, self.redaction) for a in alerts]
        self.result.messages.extend(messages)
        return messages


def run_backtest(
    rules: Sequence[Rule],
    batches: Iterable[Lines],
    *,
    settings: EngineSettings | None = None,
    redaction: Redaction | None = None,
    stats: ReadStats | None = None,
    incident_window_ms: int = DEFAULT_WINDOW_MS,
) -> BacktestResult:
    bt = Backtest(rules, settings, redaction, stats, incident_window_ms)
    for batch in batches:
        bt.feed(batch)
    return bt.finish()


def run_pair(
    rules_a: Sequence[Rule],
    rules_b: Sequence[Rule],
    batches: Iterable[Lines],
    *,
    settings: EngineSettings | None = None,
    redaction: Redaction | None = None,
    stats: ReadStats | None = None,
    incident_window_ms: int = DEFAULT_WINDOW_MS,
) -> tuple[BacktestResult, BacktestResult]:
    """Two rule sets over one pass of the input (for `--diff`); rejects are counted once."""
    a = Backtest(rules_a, settings, redaction, stats, incident_window_ms)
    b = Backtest(rules_b, settings, redaction, None, incident_window_ms)
    for batch in batches:
        a.feed(batch)
        b.feed(batch)
    return a.finish(), b.finish()


def write_jsonl(path: str | Path, messages: Iterable[PagerMessage]) -> int:
    count = 0
    with open(path, "wb") as fh:
        for m in messages:
            fh.write(encode(m) + b"\n")
            count += 1
    return count


def correlate(messages: Iterable[PagerMessage], window_ms: int = DEFAULT_WINDOW_MS) -> Incidents:
    """The live pages among `messages`, in order, through one correlator: every incident."""
    correlator, history = Correlator(window_ms), History()
    out = Incidents(window_ms)
    for m in messages:
        if m.payload.custom_details.rule.shadow:  # never on-call's
            continue
        out.pages += m.event_action == "trigger"
        history.record(m, correlator.decide(m))
    out.absorbed = correlator.counters.absorbed
    out.incidents = history.incidents()
    return out


def incident_json(incident: Incident) -> dict[str, Any]:
    """One line of `--incidents`."""
    root = incident.root
    return {
        "id": incident.id,
        "root": {"name": root.name, "value": root.value, "ref": root.ref},
        "opened_at": iso_ms(incident.opened_at),
        "resolved_at": _iso_or_none(incident.resolved_at),
        "pages": [
            {
                "dedup_key": p.dedup_key,
                "rule": p.rule,
                "first_trigger_at": iso_ms(p.first_trigger_at),
                "resolved_at": _iso_or_none(p.resolved_at),
                "absorbed_by": p.absorbed_by,
            }
            for p in incident.pages
        ],
        "rules": list(incident.rules),
        "entities": [{"name": e.name, "value": e.value, "ref": e.ref} for e in incident.entities],
    }


def write_incidents(path: str | Path, incidents: Iterable[Incident]) -> int:
    count = 0
    with open(path, "wb") as fh:
        for incident in incidents:
            fh.write(orjson.dumps(incident_json(incident), option=orjson.OPT_NON_STR_KEYS) + b"\n")
            count += 1
    return count


def _iso_or_none(ms: int | None) -> str | None:
    return None if ms is None else iso_ms(ms)
