"""The fault suite's figures: each fault test adds what it injected and what it saw.

`make faults` prints the sum as one JSON object on its last line (`python -m
tests.faults.figures FILE`); the pytest session writes the file (tests/faults/conftest.py).
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Figures:
    faults_injected: int = 0
    pages_expected: int = 0
    pages_received: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    crashes: int = 0

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_json(self) -> bytes:
        return orjson.dumps(asdict(self))


SESSION = Figures()
RUNS: list[dict[str, Any]] = []  # per test, for the file


def record(test: str, figures: Figures) -> None:
    SESSION.add(figures)
    RUNS.append({"test": test, **asdict(figures)})


def compare_pages(
    expected: Iterable[dict[str, Any]], received: Iterable[dict[str, Any]]
) -> tuple[int, int, int, int]:
    """(expected, received, lost, duplicated) pages, counted per (dedup key, action).

    A page is lost when the backtest of the same events raised it and the pager topic does
    not hold it; duplicated when the topic holds it more often than the backtest raised it.
    The event time a page carries is left out: where a live partition sat idle, the idle rule
    moves its clock by the wall clock (docs/worker.md), so a threshold may be crossed a few
    events later than in the backtest -- the same page, not a lost one and a new one.
    """

    def identity(m: dict[str, Any]) -> tuple[str, str]:
        return (m["dedup_key"], m["event_action"])

    want = collections.Counter(identity(m) for m in expected)
    got = collections.Counter(identity(m) for m in received)
    lost = sum((want - got).values())
    duplicated = sum((got - want).values())
    return sum(want.values()), sum(got.values()), lost, duplicated


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"summary": asdict(SESSION), "tests": RUNS}))


def main(argv: list[str]) -> int:
    """Print the per-test figures, then the summary as the last line."""
    data = orjson.loads(Path(argv[0]).read_bytes())
    for run in data["tests"]:
        print(orjson.dumps(run).decode())
    print(orjson.dumps(data["summary"]).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
