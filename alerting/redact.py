"""Redaction of configured event fields from pager messages.

Fields are named as rules name them (`ip`, `attrs.user_agent`) or by shell-style patterns
(`attrs.*`). A redacted field's values are replaced by `[redacted]` wherever a message carries
them: the group (details and the `payload.group` text), the summary, evidence top values and a
new-value detector's value. The dedup key is a hash and stays as it is, so a redacted page
still collapses with its repeats and resolves.

Fields that can hold secrets or prompt text are always redacted, whatever the configuration:
API key values and prompts must never reach a pager.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

REDACTED = "[redacted]"
ALWAYS_REDACTED = (
    "prompt", "*.prompt", "prompt_text", "*.prompt_text", "messages", "*.messages",
    "api_key", "*.api_key", "*secret*", "*password*", "*authorization*",
)  # fmt: skip
# Shorter values are left in summaries: replacing "1" would mangle every number in the text.
MIN_SUMMARY_VALUE = 3


@dataclass(frozen=True, slots=True)
class Redaction:
    patterns: tuple[str, ...] = ALWAYS_REDACTED

    @classmethod
    def of(cls, fields: Iterable[str]) -> Redaction:
        extra = tuple(f.strip() for f in fields if f.strip())
        return cls(tuple(dict.fromkeys((*ALWAYS_REDACTED, *extra))))

    def hides(self, field: str) -> bool:
        return any(fnmatchcase(field, pattern) for pattern in self.patterns)

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
        top = (details.get("evidence") or {}).get("top")
        top_hidden = isinstance(top, dict) and any(self.hides(str(k)) for k in top)
        value_field = (details.get("evidence") or {}).get("field")
        value_hidden = isinstance(value_field, str) and self.hides(value_field)
        if not hidden and not top_hidden and not value_hidden:
            return message
        out = copy.deepcopy(message)
        d = out["payload"]["custom_details"]
        if hidden:
            d["group"] = {k: REDACTED if k in hidden else v for k, v in d["group"].items()}
            out["payload"]["group"] = ",".join(f"{k}={v}" for k, v in d["group"].items())
        if top_hidden:
            d["evidence"]["top"] = {
                k: [[REDACTED, pair[1]] for pair in v] if self.hides(str(k)) else v
                for k, v in d["evidence"]["top"].items()
            }
        secrets = [str(v) for v in hidden.values()]
        if value_hidden:
            secrets.append(str(d.get("value")))
            d["value"] = REDACTED
        text = str(out["payload"].get("summary", ""))
        for secret in sorted(set(secrets), key=len, reverse=True):
            if len(secret) >= MIN_SUMMARY_VALUE:
                text = text.replace(secret, REDACTED)
        out["payload"]["summary"] = text
        return out
