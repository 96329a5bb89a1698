"""Backtests: the live engine over files, with a per-rule summary and a would-have-paged diff
(`signalfire.cli.pagediff`).

Pages are rendered and redacted as the worker renders them (always the secret and prompt
fields, plus the configured ones), so a backtest writes what the worker would have sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alerting.message import pager_message
from alerting.pager import PagerMessage, encode
from alerting.redact import Redaction
from signalfire.engine import Engine, EngineSettings
from signalfire.engine.alert import Alert
from signalfire.events import Event
from signalfire.rulecounts import RuleCounts, running_counts
from signalfire.rules.model import Rule


@dataclass(slots=True)
class RuleSummary:
    rule_id: str
    kind: str
    peak_groups: int
    counts: RuleCounts


@dataclass(slots=True)
class BacktestResult:
    messages: list[PagerMessage] = field(default_factory=list)
    summaries: list[RuleSummary] = field(default_factory=list)
    events: int = 0
    late: int = 0
    rules: dict[str, Rule] = field(default_factory=dict)  # by id: how to read its pages


class Backtest:
    """Feeds batches to one engine and keeps the pager messages it produces."""

    def __init__(
        self,
        rules: Sequence[Rule],
        settings: EngineSettings | None = None,
        redaction: Redaction | None = None,
    ) -> None:
        self.engine = Engine(rules, settings)
        self.rules = {r.id: r for r in rules}
        self.redaction = redaction or Redaction()
        self.result = BacktestResult(rules=dict(self.rules))
        self._peaks = [0] * len(rules)

    def feed(self, batch: list[Event]) -> list[PagerMessage]:
        self.result.events += len(batch)
        out = self._emit(self.engine.process(batch))
        for n, det in enumerate(self.engine.detectors):
            self._peaks[n] = max(self._peaks[n], det.group_count())
        return out

    def finish(self) -> BacktestResult:
        self._emit(self.engine.flush())
        self.result.late = self.engine.late
        counts = running_counts(self.engine)
        for det, peak, rule_counts in zip(self.engine.detectors, self._peaks, counts, strict=True):
            self.result.summaries.append(
                RuleSummary(det.rule.id, det.rule.detect.type, peak, rule_counts)
            )
        return self.result

    def _emit(self, alerts: list[Alert]) -> list[PagerMessage]:
        messages = [pager_message(self.rules[a.rule_id], a, self.redaction) for a in alerts]
        self.result.messages.extend(messages)
        return messages


def run_backtest(
    rules: Sequence[Rule],
    batches: Iterable[list[Event]],
    settings: EngineSettings | None = None,
    redaction: Redaction | None = None,
) -> BacktestResult:
    bt = Backtest(rules, settings, redaction)
    for batch in batches:
        bt.feed(batch)
    return bt.finish()


def run_pair(
    rules_a: Sequence[Rule],
    rules_b: Sequence[Rule],
    batches: Iterable[list[Event]],
    settings: EngineSettings | None = None,
    redaction: Redaction | None = None,
) -> tuple[BacktestResult, BacktestResult]:
    """Two rule sets over one pass of the input (for `--diff`)."""
    a, b = Backtest(rules_a, settings, redaction), Backtest(rules_b, settings, redaction)
    for batch in batches:
        # The engine completes events in place (normalised ts): both see the same dicts.
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
