"""The `regex:` engine's syntax as docs/rules.md ("Regex syntax") states it."""

import pickle

import pytest

from signalfire._core import Pattern, PatternError

MATCHES = [
    ("chat/(completions|edits)$", "/v1/chat/completions", True),
    ("^chat", "/v1/chat/completions", False),
    ("(?i)(scrapy|headless)", "Mozilla/5.0 HeadlessChrome/120", True),
    (r"\d", "٣", True),  # Unicode-aware, unlike RE2
    (r"(?-u:\d)", "٣", False),
    ("[0-9]", "٣", False),
    ("[a-z&&[^aeiou]]", "e", False),  # class intersection
    ("[a-z&&[^aeiou]]", "x", True),
    ("(?x) a b  # spaces and comments are ignored", "ab", True),
    ("(?<word>ab)", "xaby", True),
]


@pytest.mark.parametrize(("source", "text", "expected"), MATCHES)
def test_pattern_search(source, text, expected):
    assert Pattern(source).search(text) is expected


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (r"(a)\1", "backreferences are not supported"),
        ("(?=a)", "look-around"),
        ("(?<!a)b", "look-around"),
        (r"\C", ""),
        (r"\Qa.b\E", ""),
        (r"(\w{1000}){1000}", "too large"),
        ("(open", "unclosed group"),
    ],
)
def test_refused_patterns_say_why_in_one_line(source, reason):
    with pytest.raises(PatternError) as exc:
        Pattern(source)
    message = str(exc.value)
    assert reason in message and message and "\n" not in message


def test_a_pattern_pickles_as_its_source():
    p = pickle.loads(pickle.dumps(Pattern("a+b")))
    assert p.source == "a+b" and p.search("xaab") and not p.search("b")
