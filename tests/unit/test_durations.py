import pytest

from signalfire.durations import DurationError, format_duration_ms, parse_duration_ms


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
