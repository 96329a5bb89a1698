"""Duration strings of the rule format: `500ms`, `30s`, `5m`, `2h`, `1d`; and the times of rule
test cases (epoch ms or a duration from 0)."""

from __future__ import annotations

import re

from signalfire.events import MAX_TS_MS

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = r"(\d+)(ms|s|m|h|d)"
_DURATION = re.compile(rf"^\s*(?:{_PART})+\s*$")
_PARTS = re.compile(_PART)
MAX_DURATION_CHARS = 40
# Ten years. Event times run from 1970 to year 5138 (MAX_TS_MS), so an event time minus any
# duration (a window start) or plus one (a deadline) stays within 1960..5148: inside the years
# 1..9999 that a page's ISO-8601 timestamps can spell, with room to spare.
MAX_DURATION_MS = 3650 * _UNITS_MS["d"]


class DurationError(ValueError):
    """A duration string that does not follow the rule format, or is out of bounds."""


def parse_duration_ms(text: object, maximum: int | None = MAX_DURATION_MS) -> int:
    """Milliseconds in a duration such as `60s` or `1h30m`; a bare 0 is accepted as zero.

    Longer than `maximum` (default ten years; None for no bound) is an error naming the limit.
    """
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
    ms = sum(int(n) * _UNITS_MS[unit] for n, unit in _PARTS.findall(text))
    if maximum is not None and ms > maximum:
        raise DurationError(
            f"{text.strip()!r} is longer than the limit of {format_duration_ms(maximum)}"
        )
    return ms


def parse_time_ms(value: object) -> int:
    """An event time of a rule test case: epoch ms, or a duration counted from 0 (`10m`).

    Bounded like event `ts` (0 <= t < MAX_TS_MS), so a case cannot ask for a time no event has.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    else:
        ms = parse_duration_ms(value, maximum=None)
    if not 0 <= ms < MAX_TS_MS:
        raise DurationError(
            f"{value!r} is out of range: event times are 0 to {MAX_TS_MS - 1} ms (year 5138)"
        )
    return ms


def format_duration_ms(ms: int) -> str:
    """The shortest exact spelling of a duration: 60000 -> `1m`, 1500 -> `1500ms`."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
