"""Redaction of configured event fields from pager messages.

Fields are named as rules name them (`ip`, `attrs.user_agent`) or by shell-style patterns
(`attrs.*`). A redacted field's values are replaced by `[redacted]` wherever a message carries
them: the group (details and the `payload.group` text), the summary, evidence top values (which
include a `distinct` rule's distinct values), a `new_value` rule's new and known values, and the
sample event ids when `event_id` itself is hidden. The dedup key is a hash and stays as it is,
so a redacted page still collapses with its repeats and resolves.

Fields that can hold secrets or prompt text are always redacted, whatever the configuration:
API key values and prompts must never reach a pager.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from alerting.message import MAX_SUMMARY, format_number

REDACTED = "[redacted]"
ALWAYS_REDACTED = (
    "prompt", "*.prompt", "prompt_text", "*.prompt_text", "messages", "*.messages",
    "api_key", "*.api_key", "*secret*", "*password*", "*authorization*",
)  # fmt: skip
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

    def apply(self, message: dict[str, Any]) -> dict[str, Any]:
        """A copy of `message` with the redacted fields' values replaced; the input is kept."""
        payload = message.get("payload")
        details = payload.get("custom_details") if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or not isinstance(details, dict):
            return message
        group = details.get("group")
        hidden = (
            {k: v for k, v in group.items() if self.hides(str(k))}
            if isinstance(group, dict)
            else {}
        )
        evidence = details.get("evidence")
        if not isinstance(evidence, dict):
            evidence = {}
        top = evidence.get("top")
        top_hidden = isinstance(top, dict) and any(self.hides(str(k)) for k in top)
        value_field = evidence.get("field")
        value_hidden = isinstance(value_field, str) and self.hides(value_field)
        ids_hidden = bool(evidence.get("sample_event_ids")) and self.hides("event_id")
        if not (hidden or top_hidden or value_hidden or ids_hidden):
            return message
        out = copy.deepcopy(message)
        d = out["payload"]["custom_details"]
        ev = d.get("evidence") if isinstance(d.get("evidence"), dict) else {}
        if hidden:
            d["group"] = {k: REDACTED if k in hidden else v for k, v in d["group"].items()}
            out["payload"]["group"] = ",".join(f"{k}={v}" for k, v in d["group"].items())
        if top_hidden:
            ev["top"] = {
                k: [[REDACTED, pair[1]] for pair in v] if self.hides(str(k)) else v
                for k, v in ev["top"].items()
            }
        # Only group values and the new value have summary placeholders; the known values do not.
        secrets = list(hidden.values())
        if value_hidden:
            secrets.append(d.get("value"))
            d["value"] = REDACTED
            if isinstance(ev.get("known"), list):
                ev["known"] = [REDACTED] * len(ev["known"])
        if ids_hidden:
            ev["sample_event_ids"] = [REDACTED] * len(ev["sample_event_ids"])
        # `[redacted]` is longer than a short value: the summary must stay within its limit.
        text = scrub(str(out["payload"].get("summary", "")), secrets)
        out["payload"]["summary"] = (
            text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"
        )
        return out


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
