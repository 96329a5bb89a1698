"""Progress of long runs (backtest, generate, demo --offline), drawn on stderr with rich when
both stdout and stderr are a terminal; nothing at all otherwise, so piped output is unchanged.

The bar is transient: once the run ends it is erased and the terminal shows what a piped run
prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")
S = TypeVar("S", bound=Sized)
Advance = Callable[[int], None]
EVERY = 4096  # items counted between two updates: a call per event would cost more than it shows


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "- events/s")


class ProgressView:
    """Where a long run reports how far it got: a console, or nowhere (`QUIET`)."""

    def __init__(self, console: Console | None) -> None:
        self.console = console

    @property
    def shown(self) -> bool:
        return self.console is not None

    @contextmanager
    def task(self, what: str, total: int | None = None) -> Iterator[Advance]:
        """A progress line for `what` while the block runs; yields `advance(n)` to count items.
        With a `total`, a bar with the time remaining; else a count and the time so far."""
        if self.console is None:
            yield _ignore
            return
        columns: list[str | ProgressColumn] = [TextColumn("{task.description}")]
        if total is None:
            columns = [SpinnerColumn(), *columns, TextColumn("{task.completed:,.0f} events")]
            columns += [EventsPerSecond(), TimeElapsedColumn()]
        else:
            # narrow enough for 80 columns with a 300,000-event run
            columns += [BarColumn(bar_width=20), TaskProgressColumn()]
            columns += [TextColumn("{task.completed:,.0f}/{task.total:,.0f}")]
            columns += [EventsPerSecond(), TimeRemainingColumn()]
        # stdout is redirected above the bar (the demo prints pages as they come): both are
        # this terminal, or there would be no bar
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(what, total=total)
            yield lambda n: bar.advance(task, n)


QUIET = ProgressView(None)


def progress_view(terminal: bool | None = None) -> ProgressView:
    """A view on stderr if `terminal` (by default: stdout and stderr are both a terminal)."""
    if terminal is None:
        terminal = sys.stdout.isatty() and sys.stderr.isatty()
    return ProgressView(Console(file=sys.stderr, force_terminal=True) if terminal else None)


def counted(items: Iterable[T], advance: Advance, every: int = EVERY) -> Iterator[T]:
    """`items` unchanged, counted by `advance` every `every` items and at the end."""
    n = 0
    for item in items:
        yield item
        n += 1
        if n == every:
            advance(n)
            n = 0
    advance(n)


def counted_batches(batches: Iterable[S], advance: Advance) -> Iterator[S]:
    """`batches` unchanged, each counted by its length."""
    for batch in batches:
        advance(len(batch))
        yield batch


def _ignore(n: int) -> None:
    pass
