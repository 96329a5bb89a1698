"""Summary templates: placeholders filled, never evaluated; cut to a limit without showing part
of a value that must be whole."""

import pytest

from signalfire.rules.template import render

VALUES = {"x": "y" * 10, "v": "1", "title": "Burst"}


@pytest.mark.parametrize(
    ("template", "limit", "whole", "expected"),
    [
        ("{title}: {x} ({v})", None, (), "Burst: yyyyyyyyyy (1)"),
        ("{title}: {x} ({v})", 21, ("x",), "Burst: yyyyyyyyyy (1)"),  # exactly fits
        ("{nope} {v}", 20, (), "{nope} 1"),  # unknown names stay as written
        ("abcdef {v}", 5, (), "abcd…"),
        ("k {x}", 6, (), "k yyy…"),  # a value that may be cut
        ("k {x}", 6, ("x",), "k …"),  # a value that must be whole: all of it or none
        ("k {x} {v} tail", 12, ("x",), "k … 1 tail"),  # and the text after it still shows
        ("k {x} tail", 8, ("x",), "k … tai…"),
        ("{x}", 10, ("x",), "yyyyyyyyyy"),
        ("{x}!", 10, ("x",), "…!"),
        ("{x}", 1, (), "…"),
    ],
)
def test_render(template, limit, whole, expected):
    out = render(template, VALUES, limit, whole)
    assert out == expected
    assert limit is None or len(out) <= limit
