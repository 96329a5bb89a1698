"""Redaction of configured event fields from pager messages.

Fields are named as rules name them (`ip`, `attrs.user_agent`) or by shell-style patterns
(`attrs.*`). A redacted field's values are replaced by `[redacted]` wherever a page carries
them: the group (details and the `payload.group` text), the summary, evidence top values (which
include a `distinct` rule's distinct values), a `new_value` rule's new and known values, and the
sample event ids when `event_id` itself is hidden. The dedup key is a hash of the whole values
and stays as it is, so a redacted page still collapses with its repeats and resolves.

The worker and the backtest redact the alert before it is rendered (`Redaction.alert`): the
summary is written from values that are already `[redacted]`, and no page depends on what a
hidden value was. The bridge redacts the pages it reads again (`Redaction.page`), for the
fields its own configuration adds: only a value a worker left visible is left to hide there.

Fields that can hold secrets or prompt text are always redacted, whatever the configuration:
API key values and prompts must never reach a pager.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from alerting.pager import MAX_SUMMARY, PagerMessage
from alerting.summary import format_number, group_text
from signalfire.engine.alert import Alert

REDACTED = "[redacted]"
ALWAYS_REDACTED = (
    "prompt", "*.prompt", "prompt_text", "*.prompt_text", "messages", "*.messages",
    "api_key", "*.api_key", "*secret*", "*password*", "*authorization*",
)  # fmt: skip
# A new_value rule's evidence: the field whose new value the page reports, and its known values.
FIELD, KNOWN = "field", "known"
# Shorter values are replaced in summaries only as whole words: replacing "1" anywhere would
# mangle every number in the text, and leaving it would show a country code such as "RU".
MIN_SUMMARY_VALUE = 3


def parse_fields(text: str) -> tuple[str, ...]:
    """`ip, attrs.*` as the worker's `--redact` takes it: comma separated, blanks ignored."""
    return tuple(f.strip() for f in text.split(",") if f.strip())


@dataclass(frozen=True, slots=True)
class Redaction:
    patterns: tuple[str, ...] = ALWAYS_REDACTED

    @classmethod
    def of(cls, fields: Iterable[str]) -> Redaction:
        extra = tuple(f.strip() for f in fields if f.strip())
        return cls(tuple(dict.fromkeys((*ALWAYS_REDACTED, *extra))))

    def hides(self, field: str) -> bool:
        return self.pattern_for(field) is not None

    def pattern_for(self, field: str) -> str | None:
        """The first pattern that hides `field` (None when it is shown)."""
        return next((p for p in self.patterns if fnmatchcase(field, p)), None)

    def alert(self, alert: Alert) -> Alert:
        """`alert` with the values of hidden fields replaced, as it is to be rendered.

        How many values there were (known values, samples) and the counts of top values stay:
        they are not the fields' values. The input is kept; it is returned itself when there
        is nothing to hide.
        """
        ev = alert.evidence
        group = tuple((k, REDACTED if self.hides(k) else v) for k, v in alert.group)
        top = {
            k: [(REDACTED, n) for _, n in pairs] if self.hides(k) else pairs
            for k, pairs in ev.top.items()
        }
        value, extra = ev.value, ev.extra
        if self._hides_value(extra):
            value = REDACTED
            known = extra.get(KNOWN)
            if isinstance(known, list):
                extra = {**extra, KNOWN: [REDACTED] * len(known)}
        ids = ev.sample_event_ids
        if ids and self.hides("event_id"):
            ids = (REDACTED,) * len(ids)
        evidence = dataclasses.replace(ev, value=value, top=top, extra=extra, sample_event_ids=ids)
        parents = tuple((k, REDACTED if self.hides(k) else v) for k, v in alert.parents)
        if group == alert.group and evidence == ev and parents == alert.parents:
            return alert
        return dataclasses.replace(alert, group=group, evidence=evidence, parents=parents)

    def page(self, message: PagerMessage) -> PagerMessage:
        """`message` with the values of hidden fields that it still shows replaced.

        The bridge's pass over pages a worker made. A worker redacts before it renders, so a
        field hidden there is `[redacted]` already and the summary is left as written. A value
        the worker left visible (the bridge hides more fields than the worker) is in the summary
        too, and is replaced there as text: every spelling the summary gives it, a value shorter
        than MIN_SUMMARY_VALUE only as a whole word. The input is kept; it is returned itself
        when there is nothing to hide.
        """
        p = message.payload
        d = p.custom_details
        ev = d.evidence
        shown = [v for k, v in d.group.items() if self.hides(k) and v != REDACTED]
        group = {k: REDACTED if self.hides(k) else v for k, v in d.group.items()}
        top = {
            k: tuple((REDACTED, n) for _, n in pairs) if self.hides(k) else pairs
            for k, pairs in ev.top.items()
        }
        value, extra = d.value, ev.extra
        if self._hides_value(extra):
            if value != REDACTED:
                shown.append(value)
            value = REDACTED
            known = extra.get(KNOWN)
            if isinstance(known, list):
                extra = {**extra, KNOWN: [REDACTED] * len(known)}
        ids = ev.sample_event_ids
        if self.hides("event_id"):
            ids = (REDACTED,) * len(ids)
        evidence = dataclasses.replace(ev, top=top, extra=extra, sample_event_ids=ids)
        entities = tuple(
            dataclasses.replace(e, value=REDACTED) if self.hides(e.name) else e for e in d.entities
        )
        shown.extend(e.value for e in d.entities if self.hides(e.name) and e.value != REDACTED)
        if (group, value, evidence, entities) == (d.group, d.value, ev, d.entities):
            return message
        details = dataclasses.replace(
            d, group=group, value=value, evidence=evidence, entities=entities
        )
        payload = dataclasses.replace(p, custom_details=details)
        if group != d.group:
            payload = dataclasses.replace(payload, group=group_text(group.items()))
        if shown:
            # `[redacted]` is longer than a short value: the summary must stay within its limit.
            text = scrub(p.summary, shown)
            text = text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"
            payload = dataclasses.replace(payload, summary=text)
        return dataclasses.replace(message, payload=payload)

    def _hides_value(self, extra: Mapping[str, Any]) -> bool:
        """The evidence names the field whose value the page reports, and it is hidden."""
        field = extra.get(FIELD)
        return isinstance(field, str) and self.hides(field)


def scrub(text: str, values: Iterable[Any]) -> str:
    """`text` with every spelling of `values` a summary can show replaced by REDACTED."""
    # A summary shows group values as str(v) and `{value}` with thousands separators.
    spellings = {s for v in values for s in (str(v), format_number(v)) if s}
    for secret in sorted(spellings, key=lambda s: (-len(s), s)):
        if len(secret) >= MIN_SUMMARY_VALUE:
            text = text.replace(secret, REDACTED)
        else:
            # A whole word: not inside another word or a number such as 1,312 or 1.5.
            word = rf"(?<![\w.,]){re.escape(secret)}(?![\w]|[.,]\d)"
            text = re.sub(word, REDACTED, text)
    return text
