"""The repartition records: what an input partition's engine forwards, a family partition's
engine reads back (both in the compiled core; streams.repartition frames them)."""

import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.engine.core import CoreEngine, Route
from signalfire.engine.settings import EngineSettings
from signalfire.rules import load_rules
from streams.repartition import encode_batch
from streams.topology import build_topology
from tests.unit.helpers import base_rule

MAX_DEPTH = 100  # the event contract's nesting limit (docs/contracts.md)

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
CONTRACT = {"event_id", "org_id", "ts", "account_id", "api_key_id", "ip", "country", "endpoint",
            "model", "status", "prompt_tokens", "completion_tokens", "flagged", "categories",
            "event_type", "attrs"}  # fmt: skip
events = st.builds(
    lambda ts, event_id, rest: {**rest, "ts": ts, "event_id": event_id, "org_id": "o"},
    st.integers(0, 10**13),
    text.filter(bool),
    st.dictionaries(text.filter(lambda k: k not in CONTRACT), values, max_size=5),
)
EVERYTHING = base_rule({"type": "match"}, id="all", group_by=["event_id"])


def forwarder(fields: tuple[str, ...], limit: int, partitions: int = 1) -> CoreEngine:
    engine = CoreEngine([], EngineSettings(allowed_lateness_ms=10**14))
    engine.route_to([Route("by_id", (EVERYTHING,), fields)], partitions, limit)
    return engine


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=30), st.integers(1, 2_000))
def test_forwarded_events_read_back_as_they_were(batch: list[dict[str, Any]], limit: int) -> None:
    fields = tuple(sorted({k for e in batch for k in e}))
    bodies = forwarder(fields, limit).process([orjson.dumps(e) for e in batch]).routed[0][0]
    records = encode_batch(7, -3, bodies, promised=-3)
    read = [orjson.loads(r) for r in records]
    assert all((r["source"], r["watermark"]) == (7, -3) for r in read)
    # every field forwarded as it was (a null field, like a missing one, is left out)
    expected = [{k: v for k, v in e.items() if v is not None} for e in batch]
    assert [dict(e) for r in read for e in r["events"]] == [
        dict(sorted(e.items())) for e in expected
    ]
    # each record stays under the limit, unless it carries one event larger than that
    head = len(encode_batch(7, -3, [], promised=-3)[0])
    assert all(
        len(raw) <= head + limit or len(r["events"]) == 1
        for raw, r in zip(records, read, strict=True)
    )
    # and the family partition's engine takes them all
    family = CoreEngine([EVERYTHING], EngineSettings(allowed_lateness_ms=10**14))
    family.merge_from(1)
    (end,) = encode_batch(7, 10**14, [], promised=-3)
    out = family.process_forwarded([(n, r) for n, r in enumerate(records)] + [(99, end)])
    assert not out.dead_letters and out.released == len(batch)


def test_a_batch_without_events_is_one_record_carrying_the_watermark() -> None:
    (record,) = encode_batch(3, -5, [], promised=-9)
    assert orjson.loads(record) == {"source": 3, "watermark": -5, "events": []}


def test_a_batch_cut_into_records_promises_its_watermark_with_the_last_one() -> None:
    """A watermark says every event of its source up to it has been sent: true only once the
    last record of the batch is written. The records before it repeat the source's earlier
    promise; were they to carry the new one, a family partition whose other sources are ahead
    would drop the events of the later records as late."""
    batch = [{"event_id": f"e{n}", "ts": 1_000 + n, "org_id": "o", "pad": "x" * 100}
             for n in range(20)]  # fmt: skip
    fields = ("event_id", "org_id", "pad", "ts")
    bodies = forwarder(fields, 512).process([orjson.dumps(e) for e in batch]).routed[0][0]
    assert len(bodies) > 2
    records = encode_batch(0, 5_000, bodies, promised=900)
    assert [orjson.loads(r)["watermark"] for r in records] == [900] * (len(bodies) - 1) + [5_000]
    family = CoreEngine([EVERYTHING], EngineSettings(allowed_lateness_ms=0))
    family.merge_from(2)
    ahead = encode_batch(1, 10**6, [], promised=0)
    out = family.process_forwarded(list(enumerate(ahead + records)))
    assert not out.dead_letters
    assert (out.released, family.late) == (len(batch), 0)


def test_an_event_as_deep_as_the_decoder_admits_travels() -> None:
    """Events sit two levels down in a record: as deep as the input decoder lets them be,
    they still travel."""
    nested: Any = "bottom"
    for _ in range(MAX_DEPTH - 1):  # the event itself is the first level
        nested = [nested]
    engine = forwarder(("deep", "event_id", "org_id", "ts"), 1 << 20)
    ok = {"event_id": "deep", "ts": 1, "org_id": "o", "deep": nested}
    too_deep = {"event_id": "deeper", "ts": 1, "org_id": "o", "deep": [nested]}
    out = engine.process([orjson.dumps(ok), orjson.dumps(too_deep)])
    assert [d.index for d in out.dead_letters] == [1]
    assert "nested deeper" in out.dead_letters[0].message
    (record,) = encode_batch(0, 1, out.routed[0][0], promised=0)
    assert orjson.loads(record)["events"] == [
        {"deep": nested, "event_id": "deep", "org_id": "o", "ts": 1}
    ]


@pytest.mark.parametrize(
    "value",
    [
        b"garbage",
        b"",
        b"[1, 2]",
        b'{"watermark": 5, "events": []}',
        b'{"source": 0, "events": []}',
        b'{"source": "zero", "watermark": 5, "events": []}',
        b'{"source": 0, "watermark": 5}',
        b'{"source": 0, "watermark": 5, "events": {"ts": 1}}',
        b'{"source": 0, "watermark": 5, "events": [{"ts": 1}, 7]}',
        b'{"source": 0, "watermark": 5, "events": [{"no_ts": 2}]}',
        b'{"source": 0, "watermark": 5, "events": [{"ts": "soon"}]}',
    ],
)
def test_a_record_that_is_not_a_batch_is_refused_with_the_reason(value: bytes) -> None:
    family = CoreEngine([EVERYTHING])
    family.merge_from(1)
    (dead,) = family.process_forwarded([(0, value)]).dead_letters
    assert dead.message.startswith("bad repartition batch: ") and dead.reason == "other"


def test_events_are_routed_cut_down_to_the_fields_their_rules_read() -> None:
    topology = build_topology(load_rules(["rules"]).rules)
    families = [Route(f.name, f.rules, f.fields) for f in topology.families]
    (n,) = [n for n, f in enumerate(families) if f.name == "ip"]
    engine = CoreEngine(topology.direct)
    engine.route_to(families, 4, 1 << 20)
    batch = [
        {"event_id": "a", "ts": 1, "org_id": "o", "ip": "1.2.3.4", "account_id": "x",
         "event_type": "signup", "prompt": "never forwarded"},
        {"event_id": "b", "ts": 2, "org_id": "o"},  # no ip: no rule of the family reads it
    ]  # fmt: skip
    routed = engine.process([orjson.dumps(e) for e in batch]).routed[n]
    part = zlib.crc32(b'["1.2.3.4"]') % 4
    assert [bool(bodies) for bodies in routed] == [p == part for p in range(4)]
    (forwarded,) = orjson.loads(b"[" + routed[part][0] + b"]")
    assert forwarded["event_id"] == "a" and "prompt" not in forwarded
    assert set(forwarded) <= set(families[n].fields)
