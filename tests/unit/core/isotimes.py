"""ISO-8601 strings as event `ts` values: generated from the grammar `datetime.fromisoformat`
reads (extended and basic dates, week dates, any separator, times to any precision, offsets of
every form), with values just outside each field's range and mutations of the text."""

from __future__ import annotations

from hypothesis import strategies as st

# Characters JSON can carry (no lone surrogates), weighted toward the parser's own.
SEPARATORS = st.one_of(
    st.sampled_from(["T", " ", "t", "x", "-", "0", "1", ":", "W", "\x00", "é", "€", "😀", "\x80"]),
    st.characters(exclude_categories=["Cs"]),
)
MUTATION_CHARS = st.one_of(
    st.sampled_from(list("0123456789:.,-+ZWT ") + ["\x00", "é", "\u0660"]),
    st.characters(exclude_categories=["Cs"]),
)


def _num(width: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(0, hi).map(lambda n: str(n).zfill(width)[-width:])


YEARS = st.one_of(
    st.integers(1970, 2300).map(str),
    st.sampled_from(["0000", "0001", "1969", "2255", "5138", "5139", "9999"]),
    _num(4, 9999),
)
MONTHS = st.one_of(st.integers(1, 12).map(lambda n: f"{n:02d}"), _num(2, 13))
DAYS = st.one_of(st.integers(1, 28).map(lambda n: f"{n:02d}"), _num(2, 32))
WEEKS = st.one_of(st.integers(1, 52).map(lambda n: f"{n:02d}"), _num(2, 54))
WEEKDAYS = _num(1, 9)
HOURS = st.one_of(st.integers(0, 23).map(lambda n: f"{n:02d}"), _num(2, 25))
MINUTES = st.one_of(st.integers(0, 59).map(lambda n: f"{n:02d}"), _num(2, 99))
FRACTIONS = st.tuples(st.sampled_from(".,"), st.text("0123456789", min_size=1, max_size=9)).map(
    "".join
)


@st.composite
def dates(draw: st.DrawFn) -> str:
    year = draw(YEARS)
    form = draw(st.sampled_from(["ext", "basic", "week_ext", "week_day_ext", "week", "week_day"]))
    if form == "ext":
        return f"{year}-{draw(MONTHS)}-{draw(DAYS)}"
    if form == "basic":
        return f"{year}{draw(MONTHS)}{draw(DAYS)}"
    week = draw(WEEKS)
    if form == "week_ext":
        return f"{year}-W{week}"
    if form == "week_day_ext":
        return f"{year}-W{week}-{draw(WEEKDAYS)}"
    if form == "week":
        return f"{year}W{week}"
    return f"{year}W{week}{draw(WEEKDAYS)}"


@st.composite
def clocks(draw: st.DrawFn, hours: st.SearchStrategy[str] = HOURS) -> str:
    """HH, HH:MM, HH:MM:SS or their basic forms, maybe with a fraction."""
    parts = [draw(hours), draw(MINUTES), draw(MINUTES)][: draw(st.integers(1, 3))]
    colon = draw(st.booleans())
    text = (":" if colon else "").join(parts)
    if draw(st.booleans()):
        text += draw(FRACTIONS)
    return text


@st.composite
def offsets(draw: st.DrawFn) -> str:
    form = draw(st.sampled_from(["Z", "HH", "HH:MM", "HHMM", "HH:MM:SS", "HHMMSS", "frac", "any"]))
    if form == "Z":
        return "Z"
    sign = draw(st.sampled_from("+-"))
    h, m, s = draw(HOURS), draw(MINUTES), draw(MINUTES)
    body = {
        "HH": h,
        "HH:MM": f"{h}:{m}",
        "HHMM": f"{h}{m}",
        "HH:MM:SS": f"{h}:{m}:{s}",
        "HHMMSS": f"{h}{m}{s}",
        "frac": f"{h}:{m}:{s}{draw(FRACTIONS)}",
    }.get(form)
    if body is None:
        body = draw(clocks())
    return sign + body


@st.composite
def iso_strings(draw: st.DrawFn) -> str:
    text = draw(dates())
    if draw(st.integers(0, 4)):
        text += draw(SEPARATORS) + draw(clocks())
        if draw(st.booleans()):
            text += draw(offsets())
    if draw(st.integers(0, 2)) == 0:
        for _ in range(draw(st.integers(1, 2))):
            text = draw(_mutated(text))
    return text


@st.composite
def _mutated(draw: st.DrawFn, text: str) -> str:
    if not text:
        return draw(MUTATION_CHARS)
    at = draw(st.integers(0, len(text)))
    kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "repeat"]))
    if kind == "insert":
        return text[:at] + draw(MUTATION_CHARS) + text[at:]
    if kind == "delete":
        return text[:at] + text[at + 1 :]
    if kind == "replace":
        return text[:at] + draw(MUTATION_CHARS) + text[at + 1 :]
    if kind == "truncate":
        return text[:at]
    return text[:at] + text[at:][:3] + text[at:]
