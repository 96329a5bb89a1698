"""Signalfire's compiled core (the Rust crates under core/), as typed for callers."""

from typing import Any, Final

# value, window_start, window_end, sample_event_ids, top, extra, counted_since, counted_events
EvidenceTuple = tuple[
    Any,
    int | None,
    int | None,
    tuple[str, ...],
    dict[str, list[tuple[Any, int]]],
    dict[str, Any],
    int | None,
    int,
]
# rule index, action, group values, at, evidence
AlertTuple = tuple[int, str, tuple[Any, ...], int, EvidenceTuple]

SIZE_LIMIT: Final[int]

class PatternError(ValueError):
    """A pattern the linear-time engine refuses (the message is one line)."""

class Pattern:
    """A `regex:` filter's pattern: linear-time search anywhere in a string."""

    def __init__(self, source: str) -> None: ...
    def search(self, text: str) -> bool: ...
    @property
    def source(self) -> str: ...

class SnapshotError(ValueError):
    """A saved engine state this engine cannot take over (the message is one line)."""

class Core:
    """The compiled engine for one rule set (rules and settings as JSON)."""

    def __init__(self, rules: bytes, settings: bytes) -> None: ...
    def set_routing(
        self, families: bytes, partitions: int, record_limit: int, format: str
    ) -> None: ...
    def process(
        self, records: list[bytes]
    ) -> tuple[
        list[AlertTuple],
        list[tuple[int, str, str]],
        int,
        list[list[list[bytes]]],
        list[list[int]],
    ]: ...
    def merge_from(self, sources: int) -> None: ...
    def process_forwarded(
        self, records: list[tuple[int, bytes]], refill: tuple[int, int] | None = None
    ) -> tuple[list[AlertTuple], list[tuple[int, str, str]], int]: ...
    def safe_offset(self, next_offset: int) -> int: ...
    @property
    def frontier(self) -> int | None: ...
    @property
    def buffered(self) -> int: ...
    def advance(self, now: int) -> list[AlertTuple]: ...
    def flush(self) -> list[AlertTuple]: ...
    @staticmethod
    def restore(rules: bytes, settings: bytes, saved: bytes) -> Core: ...
    def save(self) -> bytes: ...
    def reload(self, rules: bytes) -> None: ...
    def stats(self) -> list[tuple[int, int, int, int, int, int, int]]: ...
    def group_counts(self) -> list[int]: ...
    @property
    def now(self) -> int: ...
    @property
    def watermark(self) -> int: ...
    @property
    def late(self) -> int: ...
