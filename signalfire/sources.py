"""Reading events from JSONL(.gz) files in arrival order, in batches, counting rejects."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from signalfire.events import Event, EventError, decode

BATCH = 4096
SHOWN_ERRORS = 5


@dataclass(slots=True)
class ReadStats:
    events: int = 0
    rejected: int = 0
    first_errors: list[str] = field(default_factory=list)


def open_lines(path: str | Path) -> IO[bytes]:
    if str(path).endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def read_batches(
    paths: Iterable[str | Path], stats: ReadStats, batch: int = BATCH
) -> Iterator[list[Event]]:
    """Checked events from every file in order; bad lines are counted with their place."""
    out: list[Event] = []
    for path in paths:
        with open_lines(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append(decode(line))
                except EventError as exc:
                    stats.rejected += 1
                    if len(stats.first_errors) < SHOWN_ERRORS:
                        stats.first_errors.append(f"{path}:{lineno}: {exc}")
                    continue
                stats.events += 1
                if len(out) >= batch:
                    yield out
                    out = []
    if out:
        yield out
