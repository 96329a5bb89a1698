"""Pattern compilation for `regex:` filters, by the compiled core's linear-time engine.

`rules check` and the running filters use the very same engine (Rust's `regex` crate), so
what the checker accepts is what runs. Errors are one line of text.
"""

from __future__ import annotations

from signalfire._core import Pattern, PatternError


class RegexError(ValueError):
    pass


def compile_pattern(source: str) -> Pattern:
    try:
        return Pattern(source)
    except PatternError as exc:
        raise RegexError(str(exc)) from None
