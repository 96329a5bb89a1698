"""The repartition records: what an input partition encodes, a family partition decodes."""

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.events import MAX_DEPTH, EventError, decode
from signalfire.rules import load_rules
from streams.repartition import (
    BadBatch,
    decode_batch,
    encode_batch,
    key_bytes,
    partition_for,
    route,
)
from streams.topology import build_topology

# What JSON input can hold once decoded: no lone surrogates (not UTF-8), no NaN, 64-bit ints.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)
events = st.builds(
    lambda ts, event_id, rest: {**rest, "ts": ts, "event_id": event_id},
    st.integers(-(10**14), 10**14),
    text,
    st.dictionaries(text, values, max_size=5),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(-(2**62), 2**62),
    st.lists(events, max_size=30),
    st.integers(1, 2_000),
)
def test_decoding_the_records_gives_back_what_was_encoded(source, watermark, batch, limit):
    records = encode_batch(source, watermark, batch, limit)
    decoded = [decode_batch(r) for r in records]
    assert all((d.source, d.watermark) == (source, watermark) for d in decoded)
    assert [e for d in decoded for e in d.events] == batch
    # Each record stays under the limit, unless it carries one event larger than that.
    head = len(encode_batch(source, watermark, [])[0])
    assert all(
        len(r) <= head + limit or len(d.events) == 1 for r, d in zip(records, decoded, strict=True)
    )


def test_a_batch_without_events_is_one_record_carrying_the_watermark():
    (record,) = encode_batch(3, -5, [])
    assert orjson.loads(record) == {"source": 3, "watermark": -5, "events": []}
    assert decode_batch(record).events == []


def test_an_event_as_deep_as_the_decoder_admits_travels():
    """Events sit two levels down in a record: as deep as the input decoder lets them be,
    they must still encode (orjson writes 254 levels at most)."""
    nested: Any = "bottom"
    for _ in range(MAX_DEPTH - 1):  # the event itself is the first level
        nested = [nested]
    event = decode(orjson.dumps({"event_id": "deep", "ts": 1, "org_id": "o", "deep": nested}))
    with pytest.raises(EventError, match="nested deeper"):
        decode(orjson.dumps({"event_id": "deeper", "ts": 1, "org_id": "o", "deep": [nested]}))
    records = encode_batch(0, 0, [event])
    assert [e for r in records for e in decode_batch(r).events] == [event]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"garbage", "unexpected character"),
        (None, "empty document"),
        (b"[1, 2]", "list indices"),
        (b'{"watermark": 5, "events": []}', "'source'"),
        (b'{"source": 0, "events": []}', "'watermark'"),
        (b'{"source": "zero", "watermark": 5, "events": []}', "invalid literal"),
        (b'{"source": 0, "watermark": 5}', "'events'"),
        (b'{"source": 0, "watermark": 5, "events": {"ts": 1}}', "events: expected a list"),
        (b'{"source": 0, "watermark": 5, "events": [{"ts": 1}, 7]}', "integer ts"),
        (b'{"source": 0, "watermark": 5, "events": [{"no_ts": 2}]}', "integer ts"),
        (b'{"source": 0, "watermark": 5, "events": [{"ts": "soon"}]}', "integer ts"),
    ],
)
def test_a_record_that_is_not_a_batch_is_refused_with_the_reason(value, reason):
    with pytest.raises(BadBatch, match=reason):
        decode_batch(value)


def test_events_are_routed_cut_down_to_the_fields_their_rules_read():
    (by_ip,) = [f for f in build_topology(load_rules(["rules"]).rules).families if f.name == "ip"]
    batch = [
        {"event_id": "a", "ts": 1, "org_id": "o", "ip": "1.2.3.4", "account_id": "x",
         "prompt": "never forwarded"},
        {"event_id": "b", "ts": 2, "org_id": "o"},  # no ip: no rule of the family reads it
    ]  # fmt: skip
    routed = route(by_ip, batch, 4)
    part = partition_for(key_bytes(("1.2.3.4",)), 4)
    assert list(routed) == [part]
    (forwarded,) = routed[part]
    assert forwarded["event_id"] == "a" and "prompt" not in forwarded
    assert set(forwarded) <= set(by_ip.fields)
