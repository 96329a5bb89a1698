"""Record values for decoding side by side: events whose every contract field is missing, null or
of any JSON type, JSON texts that orjson refuses (or accepts) for subtle reasons, in decoded and
in skipped fields, nesting around the depth limit, and byte-level mutations of all of these."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from signalfire.events import MAX_TS_MS
from tests.unit.core.isotimes import iso_strings


@dataclass(frozen=True)
class Raw:
    """JSON text put into a record as is."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """An object as written, repeated keys included."""

    items: tuple[tuple[str, Any], ...]


def dumps(value: Any) -> str:
    """JSON text of a value (integers of any size, NaN and Infinity as Python writes them)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{dumps(k)}:{dumps(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return dumps(Pairs(tuple(value.items())))
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    # non-ASCII as UTF-8 (escapes come from the fragments)
    return json.dumps(value, ensure_ascii=False)


NUMBER_TEXTS = [
    "0", "-0", "-0.0", "0.0", "-0e0", "0e-5", "01", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+",
    "1E+2", "1e05", "1.5e-3", "0x10", "1_000", "1e400", "-1e400", "1e-400", "2.5e-324", "5e-324",
    "1.7976931348623157e308", "1.7976931348623159e308", "18446744073709551615",
    "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "9223372036854775808",
    "1" + "0" * 308, "1" + "0" * 309, "0." + "0" * 400 + "1", "1" + "0" * 30 + ".0",
    "123456789012345678901234567890", "9007199254740993", "9007199254740993.0",
    "NaN", "Infinity", "-Infinity", "nan", "inf",
]  # fmt: skip
STRING_TEXTS = [
    r'"\ud800"', r'"\udc00"', r'"\ud800\udc00"', r'"\udbff\udfff"', r'"\ud800\u0041"',
    r'"\ud800\\"', r'"\ud800x"', r'"\u00e9"', r'"\u0000"', r'"\x41"', r'"\u12"', r'"\U0041"',
    r'"\uD83D\uDE00"', r'"\/"', r'"\a"', '"\x01"', '"\x1f"', '"\x7f"', '"\t"', '"é"', '"\u2028"',
    '"unterminated', r'"\"', '"\\',
]  # fmt: skip
LITERAL_TEXTS = ["true", "false", "null", "tru", "nul", "True", "None", "truex", "[]", "{}"]
CONTAINER_TEXTS = [
    "[1,]", "[,1]", "[1 2]", "{,}", '{"a"}', '{"a":}', '{"a":1,}', "{1:2}", "{'a':1}", '{"a" 1}',
    "[", "]", "{", "}", "[[]", '{"a":[}]', "[1]]", '{"a":{"a":{"a":{}}}}',
]  # fmt: skip
FRAGMENTS = st.sampled_from(NUMBER_TEXTS + STRING_TEXTS + LITERAL_TEXTS + CONTAINER_TEXTS).map(Raw)


def nested(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


DEEP = st.one_of(
    st.integers(97, 103).map(nested),
    st.integers(97, 103).map(lambda d: Raw('{"a":' * d + "1" + "}" * d)),
    st.integers(1020, 1030).map(nested),
)

INTS = st.one_of(
    st.integers(-5, 5),
    st.integers(0, MAX_TS_MS + 5),
    st.sampled_from([-(2**63), 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 0.5, -0.5, -0.9, 1e13 + 0.5, MAX_TS_MS - 0.5, float(MAX_TS_MS), 1e300]),
)
STRINGS = st.one_of(st.sampled_from(["", "x", "e1", "o", "1", " "]), st.text(max_size=5))
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
ABSENT = object()


TS = st.one_of(
    st.integers(0, MAX_TS_MS - 1),
    st.floats(-0.9, MAX_TS_MS - 1),
    iso_strings(),
    st.sampled_from(["", "1970-01-01", "123", "2026-12-03T20:00:00Z"]),
)
# Each contract field's values of its type (the first strategy) and beside it.
CONTRACT: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "event_id": (st.just("e"), st.one_of(st.just(""), VALUES)),
    "org_id": (st.sampled_from(["o1", "o2"]), st.one_of(st.just(""), VALUES)),
    "ts": (TS, st.one_of(INTS, FLOATS, st.booleans(), VALUES)),
    "account_id": (STRINGS, VALUES),
    "ip": (STRINGS, VALUES),
    "status": (INTS, st.one_of(st.sampled_from([200.0, True, "500"]), VALUES)),
    "prompt_tokens": (INTS, VALUES),
    "flagged": (st.booleans(), st.one_of(st.sampled_from([0, 1]), VALUES)),
    "categories": (
        st.lists(STRINGS, max_size=3),
        st.lists(st.one_of(STRINGS, SCALARS, st.lists(STRINGS)), min_size=1, max_size=3),
    ),
    "event_type": (STRINGS, VALUES),
    "attrs": (st.dictionaries(st.sampled_from(["plan", "n", "deep"]), VALUES, max_size=3), VALUES),
}
REQUIRED = ("event_id", "org_id", "ts")
EXTRA = st.sampled_from(["x", "tokens", "loose", "ts2", "éx", "x", "tokens", "ev\\u0065nt_id"])


@st.composite
def event_texts(draw: st.DrawFn, n: int) -> str:
    """An event object as text: mostly valid, else with one or many contract fields missing,
    null or of another type; unknown fields of any value, some written twice, some holding raw
    fragments or deep nesting."""
    mode = draw(st.sampled_from(["valid", "valid", "one_off", "wild"]))
    off = draw(st.sampled_from(list(CONTRACT))) if mode == "one_off" else None
    items: list[tuple[str, Any]] = []
    for name, (good, bad) in CONTRACT.items():
        if mode == "wild" or name == off:
            v = draw(st.one_of(good, good, good, st.just(ABSENT), st.none(), bad))
        elif name in REQUIRED or draw(st.booleans()):
            v = draw(good)
        else:
            continue
        if v is not ABSENT:
            items.append((name, f"e{n}" if v == "e" else v))
    for _ in range(draw(st.integers(0, 2))):
        broken = draw(st.integers(0, 5)) == 0
        items.append((draw(EXTRA), draw(st.one_of(DEEP, FRAGMENTS) if broken else VALUES)))
    if items and draw(st.integers(0, 4)) == 0:
        # a repeated key: the last value counts, wherever the first one was
        at = draw(st.integers(0, len(items) - 1))
        items.append((items[at][0], draw(VALUES)))
    items = draw(st.permutations(items))
    text = "{" + ",".join(_member(k, v) for k, v in items) + "}"
    return text


def _member(key: str, value: Any) -> str:
    # keys given with a backslash are written raw, so that an escaped key is tested too
    k = f'"{key}"' if "\\" in key else dumps(key)
    return f"{k}:{dumps(value)}"


NOT_OBJECTS = st.one_of(
    VALUES.map(dumps),
    st.sampled_from(["[]", "[{}]", '"x"', "1", "null", "true", ""]),
    DEEP.map(dumps),
)
INTERESTING_BYTES = [
    b"\x00", b"\x01", b"\x1f", b"\x7f", b"\x80", b"\xbf", b"\xc0", b"\xc3", b"\xed", b"\xf4",
    b"\xf5", b"\xff", b"\xef\xbb\xbf", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b'"',
    b"\\", b"\\u", b"{", b"}", b"[", b"]", b",", b":", b" ", b"\t", b"\n", b"\r", b"\x0c", b"\x0b",
    b"\xc2\xa0", b"-", b"0", b"e", b"."
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    at = draw(st.integers(0, len(raw)))
    piece = draw(st.sampled_from(INTERESTING_BYTES))
    kind = draw(st.sampled_from(["insert", "replace", "truncate", "append", "prepend", "delete"]))
    if kind == "insert":
        return raw[:at] + piece + raw[at:]
    if kind == "replace":
        return raw[:at] + piece + raw[at + 1 :]
    if kind == "truncate":
        return raw[:at]
    if kind == "append":
        return raw + piece
    if kind == "prepend":
        return piece + raw
    return raw[:at] + raw[at + 1 :]


@st.composite
def records(draw: st.DrawFn, n: int) -> bytes:
    form = draw(st.sampled_from(["event"] * 6 + ["not_object", "mutated", "mutated"]))
    raw = (draw(NOT_OBJECTS) if form == "not_object" else draw(event_texts(n))).encode()
    if form == "mutated":
        for _ in range(draw(st.integers(1, 3))):
            raw = draw(mutated(raw))
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.sampled_from([b" ", b"\t\r\n", b"\xef\xbb\xbf", b"\x0c"])) + raw
    if draw(st.integers(0, 9)) == 0:
        raw += draw(st.sampled_from([b" ", b"\n", b" x", b"\x00", b"{}", b"]"]))
    return raw


@st.composite
def batches(draw: st.DrawFn, max_size: int = 30) -> list[bytes]:
    return [draw(records(n)) for n in range(draw(st.integers(1, max_size)))]
