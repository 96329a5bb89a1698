"""Which record values reach the engine, and the dead letters of the others."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from signalfire.events import DeadLetterReason
from streams.records import usable_values


@dataclass(frozen=True)
class Rec:
    value: bytes | None
    topic: str = "events"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@pytest.mark.parametrize(
    ("values", "usable", "dead"),
    [
        ([], [], []),
        ([b"a", b"bb", b"ccc"], [0, 1, 2], []),
        ([b"a", None, b"ccc"], [0, 2], [DeadLetterReason.OTHER]),
        ([b"a", b"x" * 5, b"ccc"], [0, 2], [DeadLetterReason.OVERSIZED]),
        ([None, b"x" * 5], [], [DeadLetterReason.OTHER, DeadLetterReason.OVERSIZED]),
        ([b"x" * 4], [0], []),
    ],
)
def test_values_keep_their_records_positions_and_the_rest_are_dead_letters(
    values: list[bytes | None], usable: list[int], dead: list[DeadLetterReason]
) -> None:
    records = [Rec(v, offset=n) for n, v in enumerate(values)]
    got, positions, letters = usable_values(records, 4)
    assert positions == usable
    assert got == [values[n] for n in usable]
    assert [letter.reason for letter in letters] == dead
    assert [letter.value for letter in letters] == [v for v in values if v not in got]
