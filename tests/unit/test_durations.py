import pytest

from signalfire.durations import (
    MAX_DURATION_MS,
    DurationError,
    format_duration_ms,
    parse_duration_ms,
    parse_time_ms,
)
from signalfire.events import MAX_TS_MS


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("30s", 30_000),
        ("5m", 300_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        (0, 0),
        ("0s", 0),
        (" 10s ", 10_000),
    ],
)
def test_parses(text, ms):
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["10", "10x", "-5s", "1.5s", "", None, True, 10, "5 m s"])
def test_rejects(text):
    with pytest.raises(DurationError):
        parse_duration_ms(text)


@pytest.mark.parametrize(("ms", "text"), [(60_000, "1m"), (1500, "1500ms"), (86_400_000, "1d")])
def test_formats_shortest_exact(ms, text):
    assert format_duration_ms(ms) == text
    assert parse_duration_ms(text) == ms


TEN_YEARS_MS = 3650 * 86_400_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [("3650d", TEN_YEARS_MS), ("87600h", TEN_YEARS_MS), ("3649d23h59m59s999ms", TEN_YEARS_MS - 1)],
)
def test_accepts_up_to_ten_years(text, ms):
    assert MAX_DURATION_MS == TEN_YEARS_MS
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["3651d", "3650d1ms", "87601h", "1000000d", "3000d3000d"])
def test_rejects_longer_than_ten_years_naming_the_limit(text):
    with pytest.raises(DurationError, match=r"longer than the limit of 3650d"):
        parse_duration_ms(text)


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (0, 0),
        ("0s", 0),
        ("10m", 600_000),
        (MAX_TS_MS - 1, MAX_TS_MS - 1),
        ("1157407d", 1_157_407 * 86_400_000),  # the last whole day before year 5138
    ],
)
def test_times_run_from_zero_to_the_latest_event_time(value, ms):
    assert parse_time_ms(value) == ms


@pytest.mark.parametrize("value", [-1, MAX_TS_MS, "1157408d", 10**18, "soon", True, 1.5, None])
def test_times_outside_the_event_range_are_refused(value):
    with pytest.raises(DurationError):
        parse_time_ms(value)
