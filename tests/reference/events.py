"""Usage events (docs/contracts.md section 1) decoded and checked in Python: the reference the
compiled core's decoder is compared with, and the input of the reference engine.

`decode` gives a checked event or raises EventError with the dead-letter reason and text:
`event_id`, `org_id` are strings, `ts` is int epoch milliseconds, `event_type` is present
(default `request`), and every known optional field has its documented type. Unknown fields
are kept.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from signalfire.events import MAX_TS_MS, DeadLetterReason

Event = dict[str, Any]

# orjson reads 1024 levels but writes only 254, and the worker writes events again (inside
# repartition batches, two levels down): a deeper event would stop it there.
MAX_DEPTH = 100
_STR = (str,)
_INT = (int,)
OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "account_id": _STR,
    "api_key_id": _STR,
    "ip": _STR,
    "country": _STR,
    "endpoint": _STR,
    "model": _STR,
    "status": _INT,
    "prompt_tokens": _INT,
    "completion_tokens": _INT,
    "flagged": (bool,),
    "categories": (list,),
    "event_type": _STR,
    "attrs": (dict,),
}
_TYPE_NAMES = {str: "string", int: "integer", bool: "boolean", list: "list", dict: "object"}


class EventError(ValueError):
    """Why a record is not a usable event: `str()` is the short text of the DLQ `error` header,
    `reason` its category."""

    def __init__(self, message: str, reason: DeadLetterReason) -> None:
        super().__init__(message)
        self.reason = reason


def parse_ts(value: Any) -> int:
    if value.__class__ is int:
        ts = value
    elif value.__class__ is float:
        if not math.isfinite(value):  # NaN / infinity: from Python callers, never from JSON
            raise EventError(
                "ts: out of range (expected epoch milliseconds)", DeadLetterReason.WRONG_TYPE
            )
        ts = int(value)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise EventError("ts: not epoch ms or ISO-8601", DeadLetterReason.WRONG_TYPE) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ts = int(dt.timestamp() * 1000)
    else:
        raise EventError(
            "ts: expected epoch ms number or ISO-8601 string", DeadLetterReason.WRONG_TYPE
        )
    if not 0 <= ts < MAX_TS_MS:
        raise EventError(
            "ts: out of range (expected epoch milliseconds)", DeadLetterReason.WRONG_TYPE
        )
    return ts


def _check_fields(event: Event) -> str | None:
    """The first known optional field (in OPTIONAL_TYPES order) whose type is wrong."""
    for name, allowed in OPTIONAL_TYPES.items():
        value = event.get(name)
        if value is not None and value.__class__ not in allowed:
            return f"{name}: expected {_TYPE_NAMES[allowed[0]]}"
    return None


def _required_string(name: str, value: Any) -> EventError:
    # Absent and present-but-unusable are told apart: the DLQ reason depends on it.
    if value is None:
        return EventError(f"{name}: required non-empty string", DeadLetterReason.MISSING_FIELD)
    return EventError(f"{name}: expected non-empty string", DeadLetterReason.WRONG_TYPE)


def normalize(obj: Any) -> Event:
    """Check a decoded JSON value and return it as an event (the same dict, completed)."""
    if obj.__class__ is not dict:
        raise EventError("not a JSON object", DeadLetterReason.NOT_OBJECT)
    event: Event = obj
    eid = event.get("event_id")
    if eid.__class__ is not str or not eid:
        raise _required_string("event_id", eid)
    org = event.get("org_id")
    if org.__class__ is not str or not org:
        raise _required_string("org_id", org)
    ts = event.get("ts")
    if ts.__class__ is not int:
        if ts is None:
            raise EventError("ts: required", DeadLetterReason.MISSING_FIELD)
        event["ts"] = parse_ts(ts)
    elif not 0 <= ts < MAX_TS_MS:
        raise EventError(
            "ts: out of range (expected epoch milliseconds)", DeadLetterReason.WRONG_TYPE
        )
    problem = _check_fields(event)
    if problem is not None:
        raise EventError(problem, DeadLetterReason.WRONG_TYPE)
    if event.get("event_type") is None:
        event["event_type"] = "request"
    cats = event.get("categories")
    if cats and not all(c.__class__ is str for c in cats):
        raise EventError("categories: expected a list of strings", DeadLetterReason.WRONG_TYPE)
    return event


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = item.values() if item.__class__ is dict else item
        stack.extend((v, depth + 1) for v in children if v.__class__ in (dict, list))
    return False


def decode(raw: bytes | str) -> Event:
    """One record value (JSON text) as a checked event."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"not valid JSON: {str(exc)[:80]}", DeadLetterReason.NOT_JSON) from None
    if obj.__class__ in (dict, list) and _too_deep(obj):
        raise EventError(
            f"not valid JSON: nested deeper than {MAX_DEPTH} levels", DeadLetterReason.NOT_JSON
        )
    return normalize(obj)
