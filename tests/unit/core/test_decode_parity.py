"""Record decoding: the compiled core (core/engine/src/json.rs, event.rs) against the Python
reference (`tests.reference.events.decode`: orjson, then the contract checks) on generated records
(events with every contract field missing, null or of any type; texts orjson refuses for subtle
reasons, in read and in skipped fields; nesting around the depth limit; mutated bytes).

Every record gets the same decision and the same dead-letter reason, and the same message
wherever the reference's text is its own; after "not valid JSON: " the core writes its reader's
wording, not orjson's (see `event::not_json`). Accepted events are run through a `match` rule
selecting every event, with evidence of the decoded fields, on both engines: the same alerts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings

from tests.reference.engine import Engine
from tests.unit.core.parity import (
    DEPTH_MESSAGE,
    ORJSON_PREFIX,
    SETTINGS,
    core,
    fixed_text,
    match_rule,
    reference,
)
from tests.unit.core.records import batches

RULE = match_rule(
    evidence={"top": ["ts", "status", "x", "tokens", "attrs.n", "event_type", "flagged"]}
)


def assert_same(records: Sequence[bytes]) -> None:
    want = reference(records)
    dead, alerts = core([RULE], records)
    for n, (raw, w) in enumerate(zip(records, want, strict=True)):
        got = dead.get(n)
        if isinstance(w, dict):
            assert got is None, f"{raw!r}: core refused {got}, Python accepted"
            continue
        assert got is not None, f"{raw!r}: core accepted, Python refused {w}"
        assert got[0] == w[0], f"{raw!r}: core {got}, Python {w}"
        if fixed_text(w[1]):
            assert got[1] == w[1], f"{raw!r}: core {got}, Python {w}"
        else:
            assert got[1].startswith(ORJSON_PREFIX), got
    events = [w for w in want if isinstance(w, dict)]
    assert repr(alerts) == repr(Engine([RULE], SETTINGS).process(events))


def ev(body: str) -> bytes:
    return ('{"event_id":"e0","org_id":"o","ts":5' + body + "}").encode()


TABLE = [
    # numbers orjson refuses or types differently, in a skipped field and in a read one
    ev(',"y":1e400'),
    ev(',"x":-1e400'),
    ev(',"y":[1,2,1e999]'),
    ev(',"y":{"z":' + "1" + "0" * 400 + "}"),
    ev(',"status":-0'),
    ev(',"status":-0.0'),
    ev(',"x":-0'),
    ev(',"status":18446744073709551615'),
    ev(',"status":18446744073709551616'),
    ev(',"status":-9223372036854775809'),
    ev(',"y":01'),
    ev(',"y":NaN'),
    # strings: unpaired surrogates, invalid UTF-8, control characters, wherever they are
    ev(r',"y":"\ud800"'),
    ev(r',"y":"\udc00\ud800"'),
    ev(r',"y":{"\ud800":1}'),
    ev(r',"attrs":{"k":"\ud800x"}'),
    ev(r',"y":"\ud83d\ude00"'),
    ev(',"y":"\xff"'.encode("latin-1").decode("latin-1")),
    b'{"event_id":"e0","org_id":"o","ts":5,"y":"\xff"}',
    b'{"event_id":"e0","org_id":"o","ts":5,"y":"\xed\xa0\x80"}',
    b'{"event_id":"e0","org_id":"o","ts":5,"y":"\xc0\x80"}',
    b'{"event_id":"e0","org_id":"o","ts":5,"y":"\x01"}',
    b'{"event_id":"e0","org_id":"o","ts":5,"y":"\x7f"}',
    b'{"event_id":"e0","org_id":"o","ts":5,"y":"\\x41"}',
    # around the value: BOM, whitespace, trailing content
    b'\xef\xbb\xbf{"event_id":"e0","org_id":"o","ts":5}',
    b' \t\r\n{"event_id":"e0","org_id":"o","ts":5} \n',
    b'\x0c{"event_id":"e0","org_id":"o","ts":5}',
    b'{"event_id":"e0","org_id":"o","ts":5}\x00',
    b'{"event_id":"e0","org_id":"o","ts":5}{}',
    b"",
    # not objects, deep or not
    b"[1e400]",
    b'["\\ud800"]',
    b"[" * 101 + b"]" * 101,
    b"[" * 1100 + b"]" * 1100,
    # nesting at the limit, in read and in skipped fields
    ev(',"y":' + "[" * 99 + "]" * 99),
    ev(',"y":' + "[" * 100 + "]" * 100),
    ev(',"attrs":{"k":' + "[" * 98 + "]" * 98 + "}"),
    ev(',"attrs":{"k":' + "[" * 99 + "]" * 99 + "}"),
    ev(',"y":"' + "[" * 200 + '"'),
    ev(',"y":' + "[" * 100 + "]" * 99),
    # the limit is on the decoded value: a later value of the key replaces a too deep one
    ev(',"y":' + "[" * 100 + "]" * 100 + ',"y":1'),
    ev(',"y":1,"y":' + "[" * 100 + "]" * 100),
    ev(',"attrs":{"k":' + "[" * 99 + "]" * 99 + ',"k":[]}'),
    # repeated and escaped keys
    ev(',"attrs":{"n":1,"plan":2,"n":2.5}'),
    b'{"event_id":"e0","org_id":"o","ts":5,"ts":"x"}',
    b'{"event_id":"e0","org_id":"o","ts":"x","ts":5}',
    b'{"event_id":"e0","org_id":"o","t\\u0073":-1}',
    # contract fields of the wrong type
    ev(',"status":true'),
    ev(',"status":200.0'),
    ev(',"flagged":1'),
    ev(',"categories":["a",1]'),
    ev(',"categories":[]'),
    ev(',"categories":{}'),
    ev(',"attrs":[]'),
    b'{"event_id":"","org_id":"o","ts":5}',
    b'{"event_id":null,"org_id":"o","ts":5}',
    b'{"event_id":"e0","org_id":1,"ts":5}',
    b'{"event_id":"e0","org_id":"o","ts":true}',
    b'{"event_id":"e0","org_id":"o","ts":-0.9}',
    b'{"event_id":"e0","org_id":"o","ts":-1}',
    b'{"event_id":"e0","org_id":"o","ts":1e300}',
    b'{"event_id":"e0","org_id":"o","ts":99999999999999.9}',
    b'{"event_id":"e0","org_id":"o","ts":100000000000000}',
    b'{"event_id":"e0","org_id":"o","ts":18446744073709551616}',
    b'{"event_id":"e0","org_id":"o","ts":[]}',
    b'{"event_id":"e0","org_id":"o","ts":null}',
    # values whose group-key form differs between int and float spellings
    ev(',"x":1e19'),
    ev(',"x":-1e19'),
    ev(',"x":9223372036854775808.0'),
    ev(',"x":-9223372036854775808.0'),
    ev(',"x":18446744073709551615'),
]


@pytest.mark.parametrize("raw", TABLE, ids=lambda r: repr(r)[:60])
def test_table(raw: bytes) -> None:
    assert_same([raw])


@settings(max_examples=200, deadline=None)
@given(batches())
def test_generated_records(records: list[bytes]) -> None:
    assert_same(records)


def test_depth_message_is_the_references() -> None:
    raw = b"[" * 101 + b"]" * 101
    assert reference([raw]) == [("not_json", DEPTH_MESSAGE)]
    assert core([RULE], [raw])[0] == {0: ("not_json", DEPTH_MESSAGE)}
