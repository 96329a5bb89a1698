"""The rule-quality table (alerting.quality) as Prometheus gauges, exported by the console.

Each scrape replaces every series with the table of the lookback window that ends then, so a
rule that stopped paging leaves the metrics once its last episode is out of the window. The
labels are rule ids, severities, verdicts and quantiles: bounded sets, never a page's values.
Per-severity series add up (`sum by (rule)`); precision is per rule, over all its severities,
and absent while the rule has no verdict it counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from alerting.metrics import Factory
from alerting.quality import QUANTILES, RuleQuality, Timing

RULE_SEVERITY = ("rule", "severity")


@dataclass(frozen=True, slots=True)
class QualityMetrics:
    pages: Gauge
    acknowledged: Gauge
    unreviewed: Gauge
    verdicts: Gauge
    precision: Gauge
    time_to_ack: Gauge
    time_to_verdict: Gauge
    lookback: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, prefix: str = "signalfire") -> QualityMetrics:
        f = Factory(registry, prefix)
        timed = (*RULE_SEVERITY, "quantile")
        return cls(
            pages=f.gauge("quality_pages", "Episodes started in the window.", RULE_SEVERITY),
            acknowledged=f.gauge(
                "quality_acknowledged", "Episodes of the window acknowledged.", RULE_SEVERITY
            ),
            unreviewed=f.gauge(
                "quality_unreviewed", "Episodes of the window without a verdict.", RULE_SEVERITY
            ),
            verdicts=f.gauge(
                "quality_verdicts",
                "Episodes of the window by standing (latest) verdict.",
                (*RULE_SEVERITY, "verdict"),
            ),
            precision=f.gauge(
                "quality_precision",
                "confirmed_abuse / (confirmed_abuse + false_positive + benign), standing verdicts.",
                ("rule",),
            ),
            time_to_ack=f.gauge(
                "quality_time_to_ack_seconds",
                "Episode start (event time) to acknowledgement, nearest-rank quantile.",
                timed,
            ),
            time_to_verdict=f.gauge(
                "quality_time_to_verdict_seconds",
                "Episode start (event time) to first verdict, nearest-rank quantile.",
                timed,
            ),
            lookback=f.gauge("quality_lookback_seconds", "The window the quality metrics cover."),
        )

    def update(self, table: tuple[RuleQuality, ...], lookback_s: float) -> None:
        """Replace every series with `table`'s. Synchronous: a scrape never sees half of it."""
        for gauge in (self.pages, self.acknowledged, self.unreviewed, self.verdicts,
                      self.precision, self.time_to_ack, self.time_to_verdict):  # fmt: skip
            gauge.clear()
        self.lookback.set(lookback_s)
        for row in table:
            if row.total.precision is not None:
                self.precision.labels(rule=row.rule).set(row.total.precision)
            for cell in row.by_severity:
                key = {"rule": row.rule, "severity": cell.severity}
                self.pages.labels(**key).set(cell.pages)
                self.acknowledged.labels(**key).set(cell.acknowledged)
                self.unreviewed.labels(**key).set(cell.unreviewed)
                for verdict, n in cell.verdicts.items():
                    self.verdicts.labels(**key, verdict=verdict).set(n)
                _quantiles(self.time_to_ack, key, cell.time_to_ack)
                _quantiles(self.time_to_verdict, key, cell.time_to_verdict)


def _quantiles(gauge: Gauge, key: dict[str, str], timing: Timing) -> None:
    for q in QUANTILES:
        value = timing.quantiles()[q]
        if value is not None:
            gauge.labels(**key, quantile=str(q)).set(value)
