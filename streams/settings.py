"""Process settings from flags and `SIGNALFIRE_*` environment variables, for the worker and the
bridge alike.

Flags win over the environment, the environment over defaults. Every problem is reported at
start with the setting's flag and variable names, so an operator knows what to fix; all of
them at once, not the first one only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signalfire.durations import DurationError, parse_duration_ms


class ConfigError(ValueError):
    """Bad configuration; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SIGNALFIRE_" + self.name.upper()


class SettingValues:
    """The raw values of a process's settings, and the problems found in them so far."""

    def __init__(
        self, settings: Sequence[Setting], flags: Mapping[str, str | None], env: Mapping[str, str]
    ) -> None:
        self._by_name = {s.name: s for s in settings}
        self.raw: dict[str, str] = {}
        for s in settings:
            flag = flags.get(s.name)
            self.raw[s.name] = flag if flag is not None else env.get(s.env, s.default)
        self.problems: list[str] = []

    def __getitem__(self, name: str) -> str:
        return self.raw[name]

    def bad(self, name: str, message: str) -> None:
        s = self._by_name[name]
        self.problems.append(f"{s.flag} / {s.env}: {message}")

    def duration(self, name: str) -> int:
        try:
            return parse_duration_ms(self.raw[name])
        except DurationError as exc:
            self.bad(name, str(exc))
            return 0

    def integer(self, name: str, minimum: int, maximum: int = 2**31) -> int:
        try:
            n = int(self.raw[name])
        except ValueError:
            self.bad(name, f"expected a whole number, got {self.raw[name]!r}")
            return minimum
        if not minimum <= n <= maximum:
            self.bad(name, f"must be between {minimum} and {maximum}, got {n}")
        return n

    def check(self) -> None:
        """Raise ConfigError listing every problem found, if any."""
        if self.problems:
            raise ConfigError("bad configuration:\n  " + "\n  ".join(dict.fromkeys(self.problems)))
