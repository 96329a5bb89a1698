"""JSON-typed keys: group values and detector values compared as the filters compare them.

Python's `True == 1 == 1.0` (with equal hashes) would make a boolean and a number one group,
one distinct value or one known value. Numbers compare by value (`1` is `1.0`), strings and
booleans are their own kind: booleans become one of two singletons that equal nothing else,
and turn back into `true`/`false` wherever a value leaves the engine. A whole float becomes
its int, so a group has one spelling (and one dedup key) whichever of `1` or `1.0` it saw.
"""

from __future__ import annotations

from typing import Any


class JsonBool:
    """`true` or `false` as a key: equal only to itself (there are two, TRUE and FALSE)."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


TRUE = JsonBool(True)
FALSE = JsonBool(False)
BOOL_KEYS = {True: TRUE, False: FALSE}

WHOLE_FLOAT_LIMIT = 2.0**63


def whole(value: float) -> float | int:
    """A float that is a whole number (in int64's range) as that int."""
    if value.is_integer() and -WHOLE_FLOAT_LIMIT <= value < WHOLE_FLOAT_LIMIT:
        return int(value)
    return value


def key_of(value: Any) -> Any:
    """The key form of a scalar value (what selectors put in group keys)."""
    if value.__class__ is bool:
        return BOOL_KEYS[value]
    if value.__class__ is float:
        return whole(value)
    return value


def plain(value: Any) -> Any:
    """The JSON value of a key element, as pages show it."""
    return value.value if value.__class__ is JsonBool else value
