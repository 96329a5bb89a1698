"""The repartition records: what an input partition's engine forwards, a family partition's
engine reads back (both in the compiled core; streams.repartition frames them), in both forms:
binary, and JSON as versions before it wrote them."""

import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.engine.core import CoreEngine, RepartitionFormat, Route
from signalfire.engine.settings import EngineSettings
from signalfire.rules import load_rules
from streams.repartition import encode_batch
from streams.topology import build_topology
from tests.reference.wire import read_any
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
FORMS: list[RepartitionFormat] = ["binary", "json"]


def forwarder(
    fields: tuple[str, ...], limit: int, partitions: int = 1, form: RepartitionFormat = "binary"
) -> CoreEngine:
    engine = CoreEngine([], EngineSettings(allowed_lateness_ms=10**14))
    engine.route_to([Route("by_id", (EVERYTHING,), fields)], partitions, limit, form)
    return engine


def fields_of(event: dict[str, Any]) -> str:
    """An event's fields sorted by name, values typed (`1`, `1.0` and `True` differ)."""
    return repr(sorted(event.items()))


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=30), st.integers(1, 2_000), st.sampled_from(FORMS))
def test_forwarded_events_read_back_as_they_were(
    batch: list[dict[str, Any]], limit: int, form: RepartitionFormat
) -> None:
    fields = tuple(sorted({k for e in batch for k in e}))
    engine = forwarder(fields, limit, form=form)
    bodies = engine.process([orjson.dumps(e) for e in batch]).routed[0][0]
    records = encode_batch(7, -3, bodies, promised=-3, form=form)
    read = [read_any(r) for r in records]
    assert all((source, watermark) == (7, -3) for source, watermark, _ in read)
    # every field forwarded as it was (a null field, like a missing one, is left out)
    expected = [{k: v for k, v in e.items() if v is not None} for e in batch]
    assert [fields_of(e) for _, _, got in read for e in got] == [fields_of(e) for e in expected]
    # each record stays under the limit, unless it carries one event larger than that
    head = len(encode_batch(7, -3, [], promised=-3, form=form)[0])
    assert all(
        len(raw) <= head + limit or len(got) == 1
        for raw, (_, _, got) in zip(records, read, strict=True)
    )
    # and the family partition's engine takes them all
    family = CoreEngine([EVERYTHING], EngineSettings(allowed_lateness_ms=10**14))
    family.merge_from(1)
    (end,) = encode_batch(7, 10**14, [], promised=-3, form=form)
    out = family.process_forwarded([(n, r) for n, r in enumerate(records)] + [(99, end)])
    assert not out.dead_letters and out.released == len(batch)


@pytest.mark.parametrize("form", FORMS)
def test_a_batch_without_events_is_one_record_carrying_the_watermark(
    form: RepartitionFormat,
) -> None:
    (record,) = encode_batch(3, -5, [], promised=-9, form=form)
    assert read_any(record) == (3, -5, [])


def test_the_binary_form_is_smaller_and_a_family_pages_alike_from_either() -> None:
    """The same events in either form; and a family partition reading an older version's
    records (JSON) and then this one's (binary), as during an upgrade, pages the same."""
    rule = base_rule(
        {"type": "distinct", "field": "account_id", "window": "1m", "threshold": 2},
        id="fanout",
        group_by=["ip"],
        evidence={"top": ["attrs.ok"]},
    )
    batch = [orjson.dumps({"event_id": f"e{n}", "org_id": "o", "ts": 1_000 * n, "ip": "1.2.3.4",
                           "account_id": f"a{n % 4}", "attrs": {"n": n / 3, "ok": n % 2 == 0}})
             for n in range(40)]  # fmt: skip
    route = [Route("ip", (rule,), ("account_id", "attrs", "event_id", "ip", "org_id", "ts"))]

    def forwarded(form: RepartitionFormat, part: list[bytes], promised: int) -> list[bytes]:
        engine = CoreEngine([], EngineSettings(allowed_lateness_ms=0))
        engine.route_to(route, 1, 512, form)
        (bodies,) = engine.process(part).routed[0]
        return encode_batch(0, engine.watermark, bodies, promised=promised, form=form)

    records = {form: forwarded(form, batch, 0) for form in FORMS}
    assert sum(map(len, records["binary"])) < sum(map(len, records["json"]))
    events = {form: [fields_of(e) for r in records[form] for e in read_any(r)[2]] for form in FORMS}
    assert events["binary"] == events["json"]
    upgrade = forwarded("json", batch[:20], 0) + forwarded("binary", batch[20:], 19_000)
    pages = {}
    for name, recs in [*records.items(), ("upgrade", upgrade)]:
        family = CoreEngine([rule], EngineSettings(allowed_lateness_ms=0))
        family.merge_from(1)
        out = family.process_forwarded(list(enumerate(recs)))
        assert not out.dead_letters and out.released == len(batch)
        pages[name] = [(a.action, a.group, a.at, a.evidence) for a in out.alerts]
    assert pages["json"] and pages["binary"] == pages["json"] == pages["upgrade"]


@pytest.mark.parametrize("form", FORMS)
def test_a_batch_cut_into_records_promises_its_watermark_with_the_last_one(
    form: RepartitionFormat,
) -> None:
    """A watermark says every event of its source up to it has been sent: true only once the
    last record of the batch is written. The records before it repeat the source's earlier
    promise; were they to carry the new one, a family partition whose other sources are ahead
    would drop the events of the later records as late."""
    batch = [{"event_id": f"e{n}", "ts": 1_000 + n, "org_id": "o", "pad": "x" * 100}
             for n in range(20)]  # fmt: skip
    fields = ("event_id", "org_id", "pad", "ts")
    engine = forwarder(fields, 512, form=form)
    bodies = engine.process([orjson.dumps(e) for e in batch]).routed[0][0]
    assert len(bodies) > 2
    records = encode_batch(0, 5_000, bodies, promised=900, form=form)
    assert [read_any(r)[1] for r in records] == [900] * (len(bodies) - 1) + [5_000]
    family = CoreEngine([EVERYTHING], EngineSettings(allowed_lateness_ms=0))
    family.merge_from(2)
    ahead = encode_batch(1, 10**6, [], promised=0, form=form)
    out = family.process_forwarded(list(enumerate(ahead + records)))
    assert not out.dead_letters
    assert (out.released, family.late) == (len(batch), 0)


@pytest.mark.parametrize("form", FORMS)
def test_an_event_as_deep_as_the_decoder_admits_travels(form: RepartitionFormat) -> None:
    """Events sit two levels down in a record: as deep as the input decoder lets them be,
    they still travel."""
    nested: Any = "bottom"
    for _ in range(MAX_DEPTH - 1):  # the event itself is the first level
        nested = [nested]
    engine = forwarder(("deep", "event_id", "org_id", "ts"), 1 << 20, form=form)
    ok = {"event_id": "deep", "ts": 1, "org_id": "o", "deep": nested}
    too_deep = {"event_id": "deeper", "ts": 1, "org_id": "o", "deep": [nested]}
    out = engine.process([orjson.dumps(ok), orjson.dumps(too_deep)])
    assert [d.index for d in out.dead_letters] == [1]
    assert "nested deeper" in out.dead_letters[0].message
    (record,) = encode_batch(0, 1, out.routed[0][0], promised=0, form=form)
    assert read_any(record)[2] == [{"deep": nested, "event_id": "deep", "org_id": "o", "ts": 1}]
    family = CoreEngine([EVERYTHING])
    family.merge_from(1)
    assert family.process_forwarded([(0, record)]).released == 1


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
        # binary: no source or watermark, another version, an event cut short, one whose
        # length runs past the record, one without its event time
        b"\x00\x01",
        b"\x00\x01\x00",
        b"\x00\x02\x00\x0a",
        b"\x00\x01\x00\x0a\x03\x00\x02",
        b"\x00\x01\x00\x0a\x09\x00\x02\x01",
        b"\x00\x01\x00\x0a\x01\x00",
        b"\x00\x01\x00\x0a\x02\x07\x02",
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
    engine.route_to(families, 4, 1 << 20, "binary")
    batch = [
        {"event_id": "a", "ts": 1, "org_id": "o", "ip": "1.2.3.4", "account_id": "x",
         "event_type": "signup", "prompt": "never forwarded"},
        {"event_id": "b", "ts": 2, "org_id": "o"},  # no ip: no rule of the family reads it
    ]  # fmt: skip
    routed = engine.process([orjson.dumps(e) for e in batch]).routed[n]
    part = zlib.crc32(b'["1.2.3.4"]') % 4
    assert [bool(bodies) for bodies in routed] == [p == part for p in range(4)]
    ((_, _, (forwarded,)),) = map(read_any, encode_batch(0, 0, routed[part], promised=0))
    assert forwarded["event_id"] == "a" and "prompt" not in forwarded
    assert set(forwarded) <= set(families[n].fields)
