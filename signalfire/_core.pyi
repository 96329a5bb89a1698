"""Signalfire's compiled core (the Rust crates under core/), as typed for callers."""

from typing import Final

SIZE_LIMIT: Final[int]

class PatternError(ValueError):
    """A pattern the linear-time engine refuses (the message is one line)."""

class Pattern:
    """A `regex:` filter's pattern: linear-time search anywhere in a string."""

    def __init__(self, source: str) -> None: ...
    def search(self, text: str) -> bool: ...
    @property
    def source(self) -> str: ...
