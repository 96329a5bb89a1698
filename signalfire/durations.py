"""Duration strings of the rule format: `500ms`, `30s`, `5m`, `2h`, `1d`."""

from __future__ import annotations

import re

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = r"(\d+)(ms|s|m|h|d)"
_DURATION = re.compile(rf"^\s*(?:{_PART})+\s*$")
_PARTS = re.compile(_PART)
MAX_DURATION_CHARS = 40


class DurationError(ValueError):
    """A duration string that does not follow the rule format."""


def parse_duration_ms(text: object) -> int:
    """Milliseconds in a duration such as `60s` or `1h30m`; a bare 0 is accepted as zero."""
    if text == 0 and not isinstance(text, bool):
        return 0
    if not isinstance(text, str):
        raise DurationError(f"expected a duration like 30s, 5m, 2h, 1d; got {text!r}")
    if len(text) > MAX_DURATION_CHARS:  # int() refuses over 4300 digits, with a ValueError
        raise DurationError(f"bad duration {text[:MAX_DURATION_CHARS]!r}...: too long")
    match = _DURATION.match(text)
    if match is None:
        raise DurationError(
            f"bad duration {text!r}: use whole numbers with ms, s, m, h or d, e.g. 90s or 1h30m"
        )
    return sum(int(n) * _UNITS_MS[unit] for n, unit in _PARTS.findall(text))


def format_duration_ms(ms: int) -> str:
    """The shortest exact spelling of a duration: 60000 -> `1m`, 1500 -> `1500ms`."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
