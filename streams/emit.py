"""From a step of a partition's engine to pager records, with what each rule did counted.

After a restore the engine makes again the steps whose pages are already in Kafka: the page
log holds those, and each page found there is dropped once instead of sent twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from alerting.message import pager_message
from alerting.pager import encode
from alerting.redact import Redaction
from signalfire.engine import Engine
from signalfire.engine.alert import Alert
from signalfire.rulecounts import running_counts
from signalfire.rules.model import Rule
from streams.outputs import Outputs

PageLog = Counter[tuple[str, str, str]]


class Emitter:
    def __init__(self, redaction: Redaction) -> None:
        self.redaction = redaction
        self.rules: dict[str, Rule] = {}

    def run(
        self,
        out: Outputs,
        engine: Engine,
        page_log: PageLog | None,
        step: Callable[[], list[Alert]],
    ) -> None:
        """Run one engine step, emit its alerts and count what it did per rule."""
        before = running_counts(engine)
        late = engine.late
        self._emit(out, step(), page_log)
        out.late += engine.late - late
        after = running_counts(engine)
        for det, now, then in zip(engine.detectors, after, before, strict=True):
            if now != then:
                out.count(det.rule.id, now - then)

    def _emit(
        self, out: Outputs, alerts: list[Alert], sent: Counter[tuple[str, str, str]] | None
    ) -> None:
        for alert in alerts:
            rule = self.rules.get(alert.rule_id)
            if rule is None:
                continue
            message = pager_message(rule, alert, self.redaction)
            if sent:
                identity = (message.dedup_key, alert.action, message.payload.timestamp)
                if sent[identity] > 0:
                    sent[identity] -= 1
                    continue
            out.pages.append((message.dedup_key.encode(), encode(message)))
            out.alerts.append(alert)
