"""An independent model of the usage-event contract, to judge what the decoder does.

It reads JSON by another route than the decoder (Python's `json`, plus the limits orjson
documents: 64-bit integers, finite doubles, nesting depth 1024, strict UTF-8, no lone
surrogates) and checks the fields against the table in CONTRACTS.md section 1, written out
again here rather than imported, so that a mistake in the decoder's table shows up.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_DEPTH = 1024  # orjson's reading limit
EVENT_MAX_DEPTH = 100  # the decoder's own limit, so that the worker can write events again
I64_MIN = -(2**63)
U64_MAX = 2**64 - 1
MAX_TS_MS = 10**14
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

REQUIRED_STRINGS = ("event_id", "org_id")
STRING_FIELDS = ("account_id", "api_key_id", "ip", "country", "endpoint", "model", "event_type")
INT_FIELDS = ("status", "prompt_tokens", "completion_tokens")
KNOWN_FIELDS = (
    *REQUIRED_STRINGS, "ts", *STRING_FIELDS, *INT_FIELDS, "flagged", "categories", "attrs",
)  # fmt: skip


class NotJson(Exception):
    pass


@dataclass
class Verdict:
    """`problems` maps a field (or "" for the whole record) to the DLQ reason label it earns;
    empty means the record is a valid event, equal to `event`."""

    problems: dict[str, str] = field(default_factory=dict)
    event: dict[str, Any] | None = None


def _reject_constant(name: str) -> Any:
    raise NotJson(name)


def _parse_int(text: str) -> int | float:
    value = int(text)  # over 4300 digits: ValueError, caught as not JSON
    if I64_MIN <= value <= U64_MAX:
        return value
    try:
        return float(value)  # orjson reads wider integers as doubles
    except OverflowError:
        raise NotJson("infinite") from None


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJson("infinite")
    return value


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _check_tree(value: Any) -> int:
    """Depth and lone-surrogate limits, iteratively (the tree may be thousands deep); returns
    the nesting depth (containers only)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                raise NotJson("surrogate")
        elif isinstance(item, list | dict):
            if depth > MAX_DEPTH:
                raise NotJson("depth")
            deepest = max(deepest, depth)
            if isinstance(item, dict):
                for key, v in item.items():
                    if _has_surrogate(key):
                        raise NotJson("surrogate")
                    stack.append((v, depth + 1))
            else:
                stack.extend((v, depth + 1) for v in item)
    return deepest


def read_json(raw: bytes | str) -> tuple[Any, int]:
    """The JSON value as orjson should read it, and its depth; NotJson where orjson refuses."""
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise NotJson("surrogate") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotJson("utf-8") from None
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 6000))
    try:
        value = json.loads(
            text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float
        )
        depth = _check_tree(value)
    except (ValueError, RecursionError):
        raise NotJson("syntax") from None
    finally:
        sys.setrecursionlimit(old)
    return value, depth


def parse(raw: bytes | str) -> Any:
    """The JSON value of a record as the decoder should read it."""
    value, depth = read_json(raw)
    if depth > EVENT_MAX_DEPTH:
        raise NotJson("deeper than an event may be")
    return value


def expected_ts(value: Any) -> int | None:
    """Epoch ms for a usable `ts` (truncated like int()), None for an unusable one."""
    if type(value) is int:
        ms = value
    elif type(value) is float:
        if not math.isfinite(value):
            return None
        ms = int(value)
    elif type(value) is str:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ms = int((dt - EPOCH) / timedelta(milliseconds=1))
    else:
        return None
    return ms if 0 <= ms < MAX_TS_MS else None


def _field_ok(name: str, value: Any) -> bool:
    if name in STRING_FIELDS:
        return type(value) is str
    if name in INT_FIELDS:
        return type(value) is int
    if name == "flagged":
        return type(value) is bool
    if name == "categories":
        return type(value) is list and all(type(c) is str for c in value)
    if name == "attrs":
        return type(value) is dict
    raise AssertionError(name)


def judge_value(value: Any) -> Verdict:
    """The verdict on an already-decoded JSON value."""
    if type(value) is not dict:
        return Verdict({"": "not_object"})
    problems: dict[str, str] = {}
    for name in REQUIRED_STRINGS:
        v = value.get(name)
        if v is None:
            problems[name] = "missing_field"
        elif type(v) is not str or not v:
            problems[name] = "wrong_type"
    ts = value.get("ts")
    if ts is None:
        problems["ts"] = "missing_field"
    elif expected_ts(ts) is None:
        problems["ts"] = "wrong_type"
    for name in KNOWN_FIELDS[3:]:
        v = value.get(name)
        if v is not None and not _field_ok(name, v):
            problems[name] = "wrong_type"
    if problems:
        return Verdict(problems)
    event = dict(value)
    event["ts"] = expected_ts(ts)
    if event.get("event_type") is None:
        event["event_type"] = "request"
    return Verdict(event=event)


def judge(raw: bytes | str) -> Verdict:
    try:
        value = parse(raw)
    except NotJson:
        return Verdict({"": "not_json"})
    return judge_value(value)
