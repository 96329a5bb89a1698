"""Runtime helpers that generated filter code calls for the less common operators."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from signalfire._core import Pattern

_CACHE_LIMIT = 65_536


def json_type(value: object) -> str:
    """The JSON type of a decoded value: booleans are not numbers."""
    cls = value.__class__
    if cls is bool:
        return "b"
    if cls is int or cls is float:
        return "n"
    if cls is str:
        return "s"
    return "o"


def typed_set(values: Iterable[Any]) -> frozenset[tuple[str, Any]]:
    return frozenset((json_type(v), v) for v in values)


def typed_in(value: object, options: frozenset[tuple[str, Any]]) -> bool:
    try:
        return (json_type(value), value) in options
    except TypeError:
        return False


def typed_contains(value: object, item: object) -> bool:
    """`contains` for a non-string argument: list membership with JSON typing."""
    if value.__class__ is not list:
        return False
    tag = json_type(item)
    return any(json_type(x) == tag and x == item for x in value)  # type: ignore[attr-defined,unused-ignore]


class CidrMatcher:
    """Membership of an IP string in a set of networks, with a bounded cache of answers."""

    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        self.cache: dict[str, bool] = {}

    def __call__(self, text: str) -> bool:
        hit = self.cache.get(text)
        if hit is not None:
            return hit
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            answer = False
        else:
            answer = any(address in net for net in self.networks)
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[text] = answer
        return answer


class CachedSearch:
    """Linear-time search with a bounded cache of answers: values such as user agents repeat."""

    def __init__(self, pattern: Pattern) -> None:
        self.pattern = pattern
        self.cache: dict[str, bool] = {}

    def __call__(self, text: str) -> bool:
        hit = self.cache.get(text)
        if hit is not None:
            return hit
        answer = self.pattern.search(text)
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        self.cache[text] = answer
        return answer
