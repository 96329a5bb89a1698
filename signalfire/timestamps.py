"""Event times as pages and reports write them: ISO-8601 UTC with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_ISO_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
_LAST_ISO_MS = (datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC) - _EPOCH) // timedelta(
    milliseconds=1
)


def iso_ms(ms: int) -> str:
    """Event time as ISO-8601 UTC with milliseconds: 2026-11-23T08:00:00.000Z.

    Never raises: a time outside the years 1..9999 is written as the nearer end of them. Rule
    durations and event times are bounded so that no page needs that (signalfire.durations);
    this only keeps a bug elsewhere from becoming an exception on the alert path.
    """
    ms = min(max(ms, _FIRST_ISO_MS), _LAST_ISO_MS)
    dt = _EPOCH + timedelta(milliseconds=ms)  # arithmetic: no platform time_t limits
    # `%Y` leaves years below 1000 unpadded on glibc; ISO-8601 wants four digits.
    return f"{dt.year:04d}-{dt:%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int:
    """An ISO-8601 time with its offset (`Z` or `+hh:mm`) as epoch ms; ValueError otherwise.

    A time without an offset is refused rather than read in some local zone."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: add a zone, e.g. Z or +01:00")
    return (dt - _EPOCH) // timedelta(milliseconds=1)
