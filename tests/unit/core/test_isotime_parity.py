"""`ts` as an ISO-8601 string: the compiled core's reading (core/engine/src/isotime.rs) against
Python 3.11's `datetime.fromisoformat`, a time without an offset being UTC, the event time
`int(dt.timestamp() * 1000)` and the contract's range, with the reference's reasons and texts.

The C `fromisoformat` accepts more than its documentation says (any separator character, a
fraction after `HH`, a stray character before the offset, offset minutes past 59, a NUL ending
the text): the table pins the quirks the core reproduces, the property test the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.events import MAX_TS_MS
from tests.unit.core.isotimes import iso_strings
from tests.unit.core.parity import EVERY, core, reference

NOT_ISO = ("wrong_type", "ts: not epoch ms or ISO-8601")
OUT_OF_RANGE = ("wrong_type", "ts: out of range (expected epoch milliseconds)")


def oracle(text: str) -> int | tuple[str, str]:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return NOT_ISO
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ms = int(dt.timestamp() * 1000)
    return ms if 0 <= ms < MAX_TS_MS else OUT_OF_RANGE


def assert_same(texts: list[str]) -> None:
    records = [
        orjson.dumps({"event_id": f"e{n}", "org_id": "o", "ts": t}) for n, t in enumerate(texts)
    ]
    dead, alerts = core([EVERY], records)
    got: dict[int, int | tuple[str, str]] = dict(dead)
    for a in alerts:
        got[int(a.group[0][1][1:])] = a.at
    want = [oracle(t) for t in texts]
    # the oracle is the reference's own reading
    assert [o["ts"] if isinstance(o, dict) else o for o in reference(records)] == want
    for n, text in enumerate(texts):
        assert got.get(n) == want[n], f"{text!r}: core {got.get(n)!r}, Python {want[n]!r}"


QUIRKS = [
    "1970-01-01",
    "1970-01-01T00:00:01Z",
    "19700101T000001",
    "1970-W01-4",
    "1970W014",
    "1970W01",
    "2020-W53",
    "2020-W53-7",
    "2021-W53",
    "9999-W52-5",
    "9999-W52-6",
    "0001-W01-1",
    "0000-W01-1",
    "2020-01-01T123+01:00",
    "2020-01-01T12x+01:00",
    "2020-01-01T12:34:56:789",
    "2020-01-01T12345678",
    "2020-01-01T12.5",
    "2020-01-01T12:34.5",
    "2020-01-01T12:00:00.",
    "2020-01-01T12:00:00.+01:00",
    "2020-01-01T1200\x00",
    "2020-01-01T12:00Z\x00",
    "2020-01-01T12:00Z\x00x",
    "2020-01-01T12:00+00:99",
    "2020-01-01T12:00+00:00:00.5",
    "2020-01-01T12:00+01:00:00.5",
    "2020-01-01T12:00-01:00:00.999999",
    "2020-01-01T24:00",
    "2020-01-01T12:00+24:00",
    "2020-01-01T12:00+23:59:59.999999",
    "2020-01-01é12:00",
    "2020-01-01€12:00",
    "2020-01-01😀12:00",
    "2020-01-01T12:00:00,123456789",
    "2020-01-01T12:00:00.1234567x",
    "2020-01-01T12:00-",
    "2020-01-01T12:00+0",
    "2020-01-01T",
    "2020-W01-",
    "2020-W01-1T10",
    "2020-W01-1010",
    "2020W0110",
    "2020W01101",
    "2020-01",
    "202001",
    "2020-1-01",
    "20200101T",
    "é2020-01-01",
    "2020-01-01é",
    "1969-12-31T23:59:59.9995",
    "1969-12-31T23:59:59.999",
    "5138-11-16T09:46:39.999999",
    "5138-11-16T09:46:40",
    "4000-01-01T00:00:00.000001",
    "0001-01-01T00:00+00:01",
    "9999-12-31T23:59:59.999999-23:59",
]


@pytest.mark.parametrize("text", QUIRKS)
def test_table(text: str) -> None:
    assert_same([text])


@settings(max_examples=200, deadline=None)
@given(st.lists(iso_strings(), min_size=1, max_size=40))
def test_grammar_and_mutations(texts: list[str]) -> None:
    assert_same(texts)


OFFSETS: st.SearchStrategy[timezone | None] = st.one_of(
    st.none(),
    st.integers(-86_399_999_999, 86_399_999_999).map(
        lambda us: timezone(timedelta(microseconds=us))
    ),
)
TIMESPECS = ["auto", "hours", "minutes", "seconds", "milliseconds", "microseconds"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
            OFFSETS,
            st.sampled_from(TIMESPECS),
            st.characters(exclude_categories=["Cs"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_instants_to_the_microsecond(
    instants: list[tuple[datetime, timezone | None, str, str]],
) -> None:
    """Rounding: a float of seconds loses microseconds past 2255 (2**53 µs), exactly as Python."""
    assert_same([dt.replace(tzinfo=tz).isoformat(sep, spec) for dt, tz, spec, sep in instants])
