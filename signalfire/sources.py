"""Reading events from JSONL(.gz) files or stdin in arrival order, in batches of raw lines that
remember where each line came from, so that the engine's rejects can be counted by their place."""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from signalfire.engine.core import DeadLetter

BATCH = 4096
SHOWN_ERRORS = 5
STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class ReadStats:
    events: int = 0
    rejected: int = 0
    first_errors: list[str] = field(default_factory=list)

    def count(self, lines: Lines, rejected: Sequence[DeadLetter]) -> None:
        """A batch read: its rejected lines counted, the first few kept with their place."""
        self.events += len(lines) - len(rejected)
        self.rejected += len(rejected)
        for dead in rejected:
            if len(self.first_errors) >= SHOWN_ERRORS:
                break
            name, lineno = lines.places[dead.index]
            self.first_errors.append(f"{name}:{lineno}: {dead.message}")


@dataclass(slots=True)
class Lines:
    """A batch of non-blank lines (record values) and, for each, its file and line number."""

    values: list[bytes] = field(default_factory=list)
    places: list[tuple[str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


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


def lines_of(events: Iterable[Mapping[str, object]], batch: int = BATCH) -> Iterator[Lines]:
    """Events made in memory (generated, or a test's) as batches of record values; each one's
    place is its position."""
    out = Lines()
    for n, event in enumerate(events):
        out.values.append(orjson.dumps(event))
        out.places.append(("event", n))
        if len(out.values) >= batch:
            yield out
            out = Lines()
    if out.values:
        yield out


def read_batches(paths: Iterable[str | Path], batch: int = BATCH) -> Iterator[Lines]:
    """Every file's non-blank lines in order, in batches. A file that cannot be read to its
    end raises SourceError."""
    out = Lines()
    for path in paths:
        name = display_name(path)
        try:
            with open_lines(path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    out.values.append(line)
                    out.places.append((name, lineno))
                    if len(out.values) >= batch:
                        yield out
                        out = Lines()
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(name, exc) from exc
    if out.values:
        yield out
