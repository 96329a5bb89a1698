"""Reading events from JSONL(.gz) files or stdin in arrival order, in batches, counting rejects."""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from signalfire.events import Event, EventError, decode

BATCH = 4096
SHOWN_ERRORS = 5
STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class ReadStats:
    events: int = 0
    rejected: int = 0
    first_errors: list[str] = field(default_factory=list)


class SourceError(Exception):
    """An events file that broke off while being read (a truncated or corrupt gzip); the cause is
    the underlying error."""

    def __init__(self, path: str | Path, cause: BaseException) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause


def display_name(path: str | Path) -> str:
    return "<stdin>" if str(path) == STDIN else str(path)


@contextmanager
def open_lines(path: str | Path) -> Iterator[IO[bytes] | gzip.GzipFile]:
    """A file's bytes: `.gz` files decompressed; `-` is stdin, decompressed if it starts as gzip
    does (it has no suffix to tell), and left open."""
    if str(path) == STDIN:
        raw = sys.stdin.buffer
        # peek: the two bytes stay in the stream for the reader that follows
        head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if head == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped
        else:
            yield raw
    elif str(path).endswith(".gz"):
        with gzip.open(path, "rb") as unzipped:
            yield unzipped
    else:
        with open(path, "rb") as plain:
            yield plain


def read_batches(
    paths: Iterable[str | Path], stats: ReadStats, batch: int = BATCH
) -> Iterator[list[Event]]:
    """Checked events from every file in order; bad lines are counted with their place. A file
    that cannot be read to its end raises SourceError."""
    out: list[Event] = []
    for path in paths:
        name = display_name(path)
        try:
            with open_lines(path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        out.append(decode(line))
                    except EventError as exc:
                        stats.rejected += 1
                        if len(stats.first_errors) < SHOWN_ERRORS:
                            stats.first_errors.append(f"{name}:{lineno}: {exc}")
                        continue
                    stats.events += 1
                    if len(out) >= batch:
                        yield out
                        out = []
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(name, exc) from exc
    if out:
        yield out
