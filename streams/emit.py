"""From a step of a partition's engine to pager records, with what each rule did counted.

After a restore the engine makes again the steps whose pages are already in Kafka: the page
log holds those, and each page found there is dropped once instead of sent twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from alerting.message import pager_message
from alerting.pager import encode, held_by_snooze, record_key
from alerting.redact import Redaction
from alerting.snooze import SnoozeBook
from signalfire.engine.alert import Alert
from signalfire.engine.core import CoreEngine, Merged, Processed
from signalfire.rules.model import Rule
from signalfire.timestamps import iso_ms
from streams.outputs import Outputs

PageLog = Counter[tuple[str, str, str]]
# What an engine step returns: its alerts alone (clock moves, the end of input), or with the
# rest of what a batch gave (an input partition's, a family partition's).
Step = list[Alert] | Processed | Merged
S = TypeVar("S", list[Alert], Processed, Merged)


class Emitter:
    def __init__(self, redaction: Redaction, snoozes: SnoozeBook | None = None) -> None:
        self.redaction = redaction
        self.rules: dict[str, Rule] = {}
        self.snoozes = SnoozeBook() if snoozes is None else snoozes

    def run(
        self,
        out: Outputs,
        engine: CoreEngine,
        page_log: PageLog | None,
        step: Callable[[], S],
    ) -> S:
        """Run one engine step, emit its alerts and count what it did per rule."""
        before = engine.counts()
        late = engine.late
        result = step()
        self._emit(out, result if isinstance(result, list) else result.alerts, page_log)
        out.late += engine.late - late
        after = engine.counts()
        for rule, now, then in zip(engine.rules, after, before, strict=True):
            if now != then:
                out.count(rule.id, now - then)
        return result

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
            if rule.shadow:
                out.shadow_pages.append((record_key(message), encode(message)))
                out.alerts.append(alert)
                continue
            if alert.action == "trigger":
                snooze = self.snoozes.covering(message.dedup_key, alert.group, alert.at)
                if snooze is not None:
                    held = held_by_snooze(message, snooze.key, iso_ms(snooze.until_ms))
                    out.snoozed.append((record_key(held), encode(held), snooze.key))
                    out.snoozed_alerts.append(alert)
                    continue
            out.pages.append((record_key(message), encode(message)))
            out.alerts.append(alert)
