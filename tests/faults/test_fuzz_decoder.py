"""Fuzzing the event decoders against an independent contract model: the compiled core's (what
the worker, backtests and rule tests run) and the Python reference's (tests/reference/events.py).

Every input, valid or hostile, must come out of `decode` either as an event that keeps the
contract or as an `EventError` whose reason names a real problem and maps to the DLQ reason
label of that problem (never `other`); the compiled core must accept exactly the same inputs
and give the same label. Nothing else may escape: a stray exception would stop a worker
partition instead of dead-lettering one record.

Volume comes from a seeded bulk generator (reproducible: same seed, same 100k+ inputs);
structure comes from Hypothesis, derandomized so that CI runs the same examples each time.
"""

from __future__ import annotations

import itertools
import json
import random
import string
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.metrics import DLQ_REASONS
from signalfire.engine.core import CoreEngine
from signalfire.events import MAX_TS_MS
from signalfire.generate import GeneratorConfig, iter_events
from tests.faults import event_oracle as oracle
from tests.reference.events import EventError, decode, normalize

BULK_INPUTS = 125_000  # over 100k of them distinct
SEED = 20_251_123
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def base_events(n: int = 400) -> list[dict[str, Any]]:
    """Realistic valid events from the project's traffic generator."""
    config = GeneratorConfig(seed=7, events=n, orgs=10, scenarios=())
    return list(itertools.islice(iter_events(config), n))


CORE = CoreEngine([])


def core_label(raw: bytes | str) -> str | None:
    """The compiled core's decision on one record: its dead-letter label, or None (accepted)."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
    dead = CORE.process([data]).dead_letters
    return dead[0].reason.value if dead else None


def check(raw: bytes | str, counts: Counter[str] | None = None) -> None:
    """The fuzz property for one input: both decoders agree with the contract model."""
    verdict = oracle.judge(raw)
    try:
        event = decode(raw)
    except EventError as exc:
        assert core_label(raw) == exc.reason.value, raw[:200]
        reason = str(exc)
        assert verdict.problems, f"refused a valid event: {reason!r} for {raw[:200]!r}"
        label = exc.reason.value
        assert reason and label in DLQ_REASONS and label != "other", (reason, raw[:200])
        if "" in verdict.problems:
            assert label == verdict.problems[""], (reason, verdict.problems, raw[:200])
        else:
            name = reason.split(":", 1)[0]
            assert verdict.problems.get(name) == label, (reason, verdict.problems, raw[:200])
        if counts is not None:
            counts[label] += 1
        return
    except BaseException as exc:
        pytest.fail(f"decode raised {exc!r} for {raw[:200]!r}")
    assert not verdict.problems, f"accepted {raw[:200]!r}; expected {verdict.problems}"
    assert core_label(raw) is None, raw[:200]
    assert_contract(event)
    expected = verdict.event
    assert expected is not None
    if isinstance(expected.get("ts"), int) and isinstance(event["ts"], int):
        # ISO strings: the decoder goes through a float timestamp, so allow 1 ms of rounding.
        assert abs(event["ts"] - expected["ts"]) <= 1
        expected["ts"] = event["ts"]
    assert event == expected
    # The worker writes accepted events again, inside repartition batches.
    orjson.dumps({"source": 0, "watermark": 0, "events": [event]})
    if counts is not None:
        counts["accepted"] += 1


def assert_contract(event: Any) -> None:
    """What the engine relies on for every accepted event (CONTRACTS.md section 1)."""
    assert type(event) is dict
    for name in ("event_id", "org_id"):
        assert type(event[name]) is str and event[name]
    assert type(event["ts"]) is int and 0 <= event["ts"] < MAX_TS_MS
    assert type(event["event_type"]) is str
    for name in oracle.STRING_FIELDS:
        assert event.get(name) is None or type(event[name]) is str
    for name in oracle.INT_FIELDS:
        assert event.get(name) is None or type(event[name]) is int
    assert event.get("flagged") is None or type(event["flagged"]) is bool
    cats = event.get("categories")
    assert cats is None or (type(cats) is list and all(type(c) is str for c in cats))
    assert event.get("attrs") is None or type(event["attrs"]) is dict


# -- seeded bulk generator ---------------------------------------------------------------------

INVALID_UTF8 = (
    b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xf5", b"\xff", b"\xfe", b"\xc3", b"\xf0\x9f\x98",
)  # fmt: skip
NON_FINITE = (b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"-inf", b"1e999", b"-1e400")
NON_OBJECTS = (b"[]", b"[1,2]", b'"event"', b"1", b"-0", b"1.5", b"true", b"null", b'[{"a":1}]')
ISO_TS = (
    "2026-11-23T08:00:00Z", "2026-11-23T08:00:00.123+02:00", "2026-11-23", "2026-11-23 08:00",
    "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00", "5138-11-16T09:46:40Z", "5138-11-16T09:46:39.999Z",
    "20261123T080000Z", "2026-13-01", "2026-02-30", "yesterday", "", " ", "2026-11-23T25:00",
    "1700000000000", "NaN", "2026-11-23T08:00:00+25:00",
)  # fmt: skip
EDGE_TS: tuple[Any, ...] = (
    0, -1, 1, MAX_TS_MS - 1, MAX_TS_MS, MAX_TS_MS + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64,
    10**20, -(10**20), 0.0, -0.0, -0.5, -1.0, 1.5, 1e13, 1e14, 99999999999999.5, 1e300, -1e300,
    1.7e12, True, False, "1700000000000", "0", "-1", [1700000000000], {"ms": 1},
)  # fmt: skip


class BulkInputs:
    """Seeded, category by category; `sizes` records how many of each were made."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bases = base_events()
        self.sizes: Counter[str] = Counter()

    # values of every JSON type, for wrong-type substitution
    def any_value(self, depth: int = 0) -> Any:
        r = self.rng
        kind = r.randrange(11 if depth < 3 else 8)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice((True, False))
        if kind == 2:
            return r.randint(-(2**70), 2**70) if r.random() < 0.2 else r.randint(-5, 10**6)
        if kind == 3:
            return r.choice((0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, r.uniform(-1e15, 1e15)))
        if kind == 4:
            return ""
        if kind in (5, 6, 7):
            return self.text()
        if kind == 8:
            return [self.any_value(depth + 1) for _ in range(r.randrange(4))]
        return {self.text(): self.any_value(depth + 1) for _ in range(r.randrange(4))}

    def text(self) -> str:
        r = self.rng
        alphabet = r.choice(
            (string.ascii_letters, string.printable, "\u00e9\u4e2d\U0001f600\u0000\u200b\ufeff")
        )
        return "".join(r.choice(alphabet) for _ in range(r.randrange(12)))

    def base(self) -> dict[str, Any]:
        event = dict(self.rng.choice(self.bases))
        event["attrs"] = dict(event.get("attrs") or {})
        return event

    def dumps(self, obj: Any) -> bytes:
        # json (not orjson) so that integers wider than 64 bits can be written out.
        return json.dumps(obj, ensure_ascii=self.rng.random() < 0.3).encode(
            "utf-8", "surrogatepass"
        )

    # categories -------------------------------------------------------------------------------
    def valid(self) -> bytes:
        event = self.base()
        for name in self.rng.sample(oracle.KNOWN_FIELDS[3:], self.rng.randrange(4)):
            event.pop(name, None)
        return self.dumps(event)

    def wrong_type(self) -> bytes:
        event = self.base()
        for name in self.rng.sample(oracle.KNOWN_FIELDS, self.rng.choice((1, 1, 1, 2, 3))):
            event[name] = self.any_value()
        return self.dumps(event)

    def missing_required(self) -> bytes:
        event = self.base()
        for name in self.rng.sample(("event_id", "org_id", "ts"), self.rng.randrange(1, 4)):
            if self.rng.random() < 0.5:
                del event[name]
            else:
                event[name] = None
        return self.dumps(event)

    def numbers_as_strings(self) -> bytes:
        event = self.base()
        name = self.rng.choice(("ts", *oracle.INT_FIELDS))
        event[name] = str(event.get(name) if event.get(name) is not None else 200)
        return self.dumps(event)

    def timestamps(self) -> bytes:
        event = self.base()
        r = self.rng
        event["ts"] = r.choice(EDGE_TS) if r.random() < 0.5 else r.choice(ISO_TS)
        return self.dumps(event)

    def huge_integer(self) -> bytes:
        event = self.base()
        digits = self.rng.choice((19, 20, 21, 40, 308, 309, 310, 400, 4300, 4301, 5000))
        number = self.rng.choice(("", "-")) + "9" * digits
        name = self.rng.choice(("ts", "status", "prompt_tokens", "completion_tokens", "extra"))
        return self._splice(event, name, number.encode())

    def non_finite(self) -> bytes:
        event = self.base()
        name = self.rng.choice(("ts", "status", "prompt_tokens", "extra"))
        return self._splice(event, name, self.rng.choice(NON_FINITE))

    def _splice(self, event: dict[str, Any], name: str, literal: bytes) -> bytes:
        """The event with `name` set to a raw JSON literal that no encoder would write."""
        event[name] = "\x00SPLICE\x00"
        return self.dumps(event).replace(b'"\\u0000SPLICE\\u0000"', literal)

    def invalid_utf8(self) -> bytes:
        raw = bytearray(self.dumps(self.base()))
        quotes = [i for i, b in enumerate(raw) if b == 0x22]
        at = (
            self.rng.choice(quotes) + 1 if self.rng.random() < 0.8 else self.rng.randrange(len(raw))
        )
        raw[at:at] = self.rng.choice(INVALID_UTF8)
        return bytes(raw)

    def truncated(self) -> bytes:
        raw = self.dumps(self.base())
        return raw[: self.rng.randrange(len(raw))]

    def deep(self) -> bytes:
        r = self.rng
        n = r.choice((1023, 1024, 1025, 1026, 2000, 100_000))
        kind = r.randrange(4)
        if kind == 0:
            return b"[" * n
        if kind == 1:
            return b"[" * n + b"]" * n
        if kind == 2:
            return b'{"a":' * n + b"1" + b"}" * n
        # nested inside `attrs` of an otherwise valid event: valid while within the limit
        event = self.base()
        inner = r.choice((97, 98, 99, 100, 101, 253, 254, 255, n))
        return self._splice(event, "attrs", b'{"x":' * inner + b"1" + b"}" * inner)

    def duplicate_keys(self) -> bytes:
        event = self.base()
        name = self.rng.choice(oracle.KNOWN_FIELDS)
        first = self.dumps({name: self.any_value()})[1:-1]
        raw = self.dumps(event)
        if self.rng.random() < 0.5:
            return b"{" + first + b"," + raw[1:]
        return raw[:-1] + b"," + first + b"}"

    def empty(self) -> bytes:
        return self.rng.choice((b"", b" ", b"\n", b"\t\r\n ", b"\x00", b"\xef\xbb\xbf", b"{", b"}"))

    def non_object(self) -> bytes:
        if self.rng.random() < 0.5:
            return self.rng.choice(NON_OBJECTS)
        return self.dumps([self.base()] if self.rng.random() < 0.5 else self.any_value())

    def unknown_fields(self) -> bytes:
        event = self.base()
        for _ in range(self.rng.randrange(1, 6)):
            event[self.text()] = self.any_value()
        return self.dumps(event)

    def oversized_string(self) -> bytes:
        event = self.base()
        size = self.rng.choice((10_000, 100_000, 1_000_000)) if self.rng.random() < 0.2 else 2_000
        name = self.rng.choice(("event_id", "org_id", "ip", "endpoint", "huge", "categories"))
        big = self.rng.choice("ax\u00e9") * size
        event[name] = [big] if name == "categories" else big
        return self.dumps(event)

    def escapes(self) -> bytes:
        event = self.base()
        name = self.rng.choice(("event_id", "org_id", "ip", "model", "extra"))
        escape = self.rng.choice(
            (
                b'"\\ud800"',
                b'"\\udfff"',
                b'"a\\ud83d"',
                b'"\\ud83d\\ude00"',
                b'"\\u0000"',
                b'"\\x41"',
            )
        )
        return self._splice(event, name, escape)

    def byte_mutation(self) -> bytes:
        raw = bytearray(self.dumps(self.base()))
        for _ in range(self.rng.randrange(1, 4)):
            at = self.rng.randrange(len(raw))
            op = self.rng.randrange(3)
            if op == 0:
                raw[at] = self.rng.randrange(256)
            elif op == 1:
                del raw[at]
            else:
                raw[at:at] = bytes([self.rng.randrange(256)])
        return bytes(raw)

    def as_text(self) -> str:
        """decode() also takes str: invalid bytes become lone surrogates, which must fail."""
        raw = self.rng.choice((self.valid, self.invalid_utf8, self.wrong_type))()
        return raw.decode("utf-8", "surrogateescape")

    def categories(self) -> list[tuple[str, Callable[[], bytes | str], int]]:
        """(name, generator, weight)."""
        return [
            ("valid", self.valid, 8),
            ("wrong_type", self.wrong_type, 16),
            ("missing_required", self.missing_required, 6),
            ("numbers_as_strings", self.numbers_as_strings, 4),
            ("timestamps", self.timestamps, 8),
            ("huge_integer", self.huge_integer, 5),
            ("non_finite", self.non_finite, 4),
            ("invalid_utf8", self.invalid_utf8, 8),
            ("truncated", self.truncated, 8),
            ("deep", self.deep, 1),
            ("duplicate_keys", self.duplicate_keys, 5),
            ("empty", self.empty, 2),
            ("non_object", self.non_object, 4),
            ("unknown_fields", self.unknown_fields, 6),
            ("oversized_string", self.oversized_string, 1),
            ("escapes", self.escapes, 3),
            ("byte_mutation", self.byte_mutation, 10),
            ("as_text", self.as_text, 2),
        ]

    def __iter__(self) -> Iterator[bytes | str]:
        cats = self.categories()
        names = [c[0] for c in cats]
        makers = {c[0]: c[1] for c in cats}
        weights = [c[2] for c in cats]
        # every category at least once, whatever the draw
        for name in names:
            self.sizes[name] += 1
            yield makers[name]()
        for name in self.rng.choices(names, weights, k=BULK_INPUTS - len(names)):
            self.sizes[name] += 1
            yield makers[name]()


def test_bulk_seeded_inputs_are_decoded_or_refused_with_the_right_reason():
    inputs = BulkInputs(SEED)
    outcomes: Counter[str] = Counter()
    distinct: set[int] = set()
    n = 0
    for raw in inputs:
        check(raw, outcomes)
        distinct.add(hash(raw))
        n += 1
    assert n == BULK_INPUTS and len(distinct) >= 100_000
    assert sum(outcomes.values()) == n
    # The generator reaches every outcome, so the property was tested on each of them.
    for label in ("accepted", "not_json", "not_object", "missing_field", "wrong_type"):
        assert outcomes[label] > 100, outcomes
    assert min(inputs.sizes.values()) >= 1 and len(inputs.sizes) == len(inputs.categories())


def test_bulk_generator_is_reproducible():
    first = list(itertools.islice(iter(BulkInputs(SEED)), 300))
    again = list(itertools.islice(iter(BulkInputs(SEED)), 300))
    assert first == again


# -- Hypothesis: structure-aware inputs ---------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
good_values: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.text(min_size=1, max_size=12),
    "org_id": st.text(min_size=1, max_size=12),
    "ts": st.one_of(
        st.integers(min_value=-10, max_value=MAX_TS_MS + 10),
        st.floats(min_value=-10, max_value=2e14),
        st.datetimes().map(lambda d: d.isoformat()),
        st.text(max_size=30),
    ),
    **{name: st.text(max_size=16) for name in oracle.STRING_FIELDS},
    **{name: st.integers(min_value=-(2**65), max_value=2**65) for name in oracle.INT_FIELDS},
    "flagged": st.booleans(),
    "categories": st.lists(st.text(max_size=8), max_size=4),
    "attrs": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
}


@st.composite
def event_documents(draw: st.DrawFn) -> bytes:
    """An event object: each known field absent, well typed or any JSON value; extra fields;
    written with NaN/Infinity allowed; sometimes cut, or given a stray byte."""
    event: dict[str, Any] = {}
    for name, good in good_values.items():
        choice = draw(st.sampled_from(("absent", "good", "good", "good", "any")))
        if choice == "good":
            event[name] = draw(good)
        elif choice == "any":
            event[name] = draw(json_values)
    event.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3)))
    raw = json.dumps(event, allow_nan=True).encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(("none", "none", "none", "cut", "byte")))
    if damage == "cut":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif damage == "byte":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at:]
    return raw


def test_hypothesis_event_documents():
    seen = 0

    @settings(FUZZ, max_examples=700)
    @given(event_documents())
    def run(raw: bytes) -> None:
        nonlocal seen
        seen += 1
        check(raw)

    run()
    assert seen >= 700


def test_hypothesis_arbitrary_bytes_and_json_values():
    seen = 0

    @settings(FUZZ, max_examples=1000)
    @given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
    def run(raw: bytes) -> None:
        nonlocal seen
        seen += 1
        check(raw)

    run()
    assert seen >= 1000


def test_hypothesis_normalize_python_values():
    """normalize() is the decoder's entry for values that are not JSON text (rule test
    cases): NaN and infinite floats can reach it, and must be refused, not crash it."""
    seen = 0
    floats = st.floats(allow_nan=True, allow_infinity=True)

    @settings(FUZZ, max_examples=500)
    @given(
        st.fixed_dictionaries(
            {"event_id": st.just("e1"), "org_id": st.just("o1")},
            optional={"ts": floats | st.integers() | json_values, "status": floats},
        )
    )
    def run(obj: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        verdict = oracle.judge_value(obj)
        try:
            event = normalize(dict(obj))
        except EventError as exc:
            assert verdict.problems, (exc, obj)
            assert exc.reason.value in set(verdict.problems.values())
            return
        assert not verdict.problems, obj
        assert_contract(event)

    run()
    assert seen >= 500


# -- regressions --------------------------------------------------------------------------------


@pytest.mark.parametrize("ts", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_float_ts_is_refused_not_crashing(ts):
    # int(nan) raised ValueError and int(inf) OverflowError out of normalize().
    with pytest.raises(EventError, match="ts: out of range"):
        normalize({"event_id": "e", "org_id": "o", "ts": ts})


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (b'{"event_id": 5, "org_id": "o", "ts": 1}', "wrong_type"),
        (b'{"event_id": "", "org_id": "o", "ts": 1}', "wrong_type"),
        (b'{"event_id": "e", "org_id": ["o"], "ts": 1}', "wrong_type"),
        (b'{"event_id": "e", "org_id": null, "ts": 1}', "missing_field"),
        (b'{"org_id": "o", "ts": 1}', "missing_field"),
    ],
)
def test_required_field_of_the_wrong_type_is_labelled_wrong_type(raw, label):
    # Present-but-wrong required strings used to be reported as missing ("required ...").
    with pytest.raises(EventError) as exc:
        decode(raw)
    assert exc.value.reason.value == label


def test_oracle_agrees_with_orjson_on_its_limits():
    """The model's reading of JSON matches orjson exactly at the edges it claims."""
    edges = [
        b"[" * 1024 + b"]" * 1024,
        b"[" * 1025 + b"]" * 1025,
        b"18446744073709551615",
        b"18446744073709551616",
        b"-9223372036854775809",
        b"1" + b"0" * 308,
        b"1" + b"0" * 309,
        b'"\\ud800"',
        b'"\\ud83d\\ude00"',
        b'{"a":1,"a":2}',
        b"\xef\xbb\xbf{}",
        b'"\xed\xa0\x80"',
    ]
    for raw in edges:
        try:
            got: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            got = "refused"
        try:
            want: Any = oracle.read_json(raw)[0]
        except oracle.NotJson:
            want = "refused"
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(5000)  # comparing 1024-deep lists
        try:
            assert got == want, raw[:40]
        finally:
            sys.setrecursionlimit(old)


def test_event_too_deep_to_write_again_is_refused_as_not_json():
    # orjson reads 1024 levels but writes only 254: such an event used to be accepted, then
    # stop the worker when it wrote the event into a repartition batch.
    def event(levels: int) -> bytes:
        head = b'{"event_id":"e","org_id":"o","ts":1,"attrs":'
        return head + b'{"x":' * levels + b"1" + b"}" * levels + b"}"

    with pytest.raises(EventError, match="nested deeper than") as exc:
        decode(event(300))
    assert exc.value.reason == "not_json"
    kept = decode(event(99))  # 100 levels with the event itself: the most allowed
    orjson.dumps({"source": 0, "watermark": 0, "events": [kept]})
    with pytest.raises(EventError, match="nested deeper than"):
        decode(event(100))
