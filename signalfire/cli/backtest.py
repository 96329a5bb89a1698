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
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rulecounts import RuleCounts
from signalfire.rules.model import Rule
from signalfire.sources import Lines, ReadStats


@dataclass(slots=True)
class RuleSummary:
    rule_id: str
    kind: str
    peak_groups: int
    counts: RuleCounts
    shadow: bool = False


@dataclass(slots=True)
class BacktestResult:
    messages: list[PagerMessage] = field(default_factory=list)
    summaries: list[RuleSummary] = field(default_factory=list)
    events: int = 0
    late: int = 0
    rules: dict[str, Rule] = field(default_factory=dict)  # by id: how to read its pages


class Backtest:
    """Feeds batches of record values to one engine and keeps the pager messages it produces;
    with `stats`, the lines it rejects are counted there by their place."""

    def __init__(
        self,
        rules: Sequence[Rule],
        settings: EngineSettings | None = None,
        redaction: Redaction | None = None,
        stats: ReadStats | None = None,
    ) -> None:
        self.engine = CoreEngine(rules, settings)
        self.rules = {r.id: r for r in rules}
        self.redaction = redaction or Redaction()
        self.stats = stats
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
) -> BacktestResult:
    bt = Backtest(rules, settings, redaction, stats)
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
) -> tuple[BacktestResult, BacktestResult]:
    """Two rule sets over one pass of the input (for `--diff`); rejects are counted once."""
    a, b = Backtest(rules_a, settings, redaction, stats), Backtest(rules_b, settings, redaction)
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
