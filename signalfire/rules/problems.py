"""Collected validation problems, reported as `file:line: message`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(slots=True)
class Problems:
    """Accumulates every problem of a file so that a check reports all of them at once."""

    path: str
    items: list[Problem] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append(Problem(self.path, line, message))

    def __bool__(self) -> bool:
        return bool(self.items)
