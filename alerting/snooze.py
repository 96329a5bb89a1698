"""Snoozes: "do not page on-call about this until then", said by an investigator.

A snooze covers either one rule's group, named by the page's `dedup_key` (which depends on the
rule id and the whole group values only, so it is the same whatever the page's redaction or
truncation), or an entity: a field and a value, across every rule whose group holds that field.
Until it ends, a trigger it covers is held back from on-call (the worker writes it to the quiet
topic, marked as snoozed) and counted as suppressed. Resolves always go through: a page sent
before the snooze is never left open, and a resolve of a trigger that was held back is one the
pagers never had, which they ignore.

A snooze ends at its `until`, compared with a page's event time (the `timestamp` of its
message): live, event time is about the wall clock, and a replay decides as the live run did.

Snoozes travel on a compacted control topic, keyed by what they cover: a new snooze of the same
target replaces the previous one, and a tombstone (a record without a value) lifts it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from signalfire.timestamps import iso_ms, parse_iso_ms

KIND = "snooze"
MAX_TEXT = 1024  # reason and author: shown in the console, never trusted for size


class SnoozeError(ValueError):
    """A control record that is not a snooze; the reason names the field, never a value."""


@dataclass(frozen=True, slots=True)
class Entity:
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Snooze:
    """One snooze. Exactly one of `dedup_key` (a rule's group) and `entity` is set."""

    until_ms: int
    reason: str
    by: str
    created_ms: int
    dedup_key: str | None = None
    rule_id: str | None = None  # the rule of a group snooze, for people and metrics
    entity: Entity | None = None

    @property
    def key(self) -> str:
        """The control topic's record key: the same for every snooze of the same target."""
        return snooze_key(self.dedup_key, self.entity)

    def active(self, at_ms: int) -> bool:
        return at_ms < self.until_ms


def snooze_key(dedup_key: str | None, entity: Entity | None) -> str:
    if (dedup_key is None) == (entity is None):
        raise ValueError("a snooze covers a group (dedup_key) or an entity, exactly one")
    target: Any = {"dedup_key": dedup_key} if entity is None else [entity.field, entity.value]
    digest = hashlib.sha256(orjson.dumps(target)).hexdigest()[:32]
    return f"{KIND}/{digest}"


def entity_text(value: object) -> str:
    """A group value as an entity value: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def encode(snooze: Snooze) -> bytes:
    body: dict[str, Any] = {
        "kind": KIND,
        "until": iso_ms(snooze.until_ms),
        "created": iso_ms(snooze.created_ms),
        "reason": snooze.reason,
        "by": snooze.by,
    }
    if snooze.entity is not None:
        body["entity"] = {"field": snooze.entity.field, "value": snooze.entity.value}
    else:
        body["dedup_key"] = snooze.dedup_key
        if snooze.rule_id is not None:
            body["rule"] = snooze.rule_id
    return orjson.dumps(body)


def decode(value: bytes) -> Snooze:
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise SnoozeError("not JSON") from None
    if not isinstance(body, dict) or body.get("kind") != KIND:
        raise SnoozeError("kind: not a snooze")
    until, created = _time(body, "until"), _time(body, "created")
    reason, by = _text(body, "reason"), _text(body, "by")
    entity = body.get("entity")
    dedup_key = body.get("dedup_key")
    if entity is not None:
        if dedup_key is not None:
            raise SnoozeError("dedup_key and entity: a snooze covers one of them")
        if not isinstance(entity, dict):
            raise SnoozeError("entity: not an object")
        field, text = entity.get("field"), entity.get("value")
        if not isinstance(field, str) or not field or not isinstance(text, str):
            raise SnoozeError("entity: needs a field and a value, both strings")
        return Snooze(until, reason, by, created, entity=Entity(field, text))
    if not isinstance(dedup_key, str) or not dedup_key:
        raise SnoozeError("dedup_key: missing (or an entity)")
    rule = body.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise SnoozeError("rule: not a string")
    return Snooze(until, reason, by, created, dedup_key=dedup_key, rule_id=rule)


def _time(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, str):
        raise SnoozeError(f"{name}: not a time")
    try:
        return parse_iso_ms(value)
    except ValueError:
        raise SnoozeError(f"{name}: not an ISO-8601 time") from None


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise SnoozeError(f"{name}: not a string")
    return value[:MAX_TEXT]


class SnoozeBook:
    """The snoozes in force, as read from the control topic; answers "is this page held?"."""

    def __init__(self) -> None:
        self._by_key: dict[str, Snooze] = {}
        self._groups: dict[str, Snooze] = {}
        self._entities: dict[tuple[str, str], Snooze] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def apply(self, key: str, snooze: Snooze | None) -> None:
        """A control record: a snooze set under `key`, or lifted (None, a tombstone)."""
        old = self._by_key.pop(key, None)
        if old is not None:
            if old.entity is None:
                self._groups.pop(old.dedup_key or "", None)
            else:
                self._entities.pop((old.entity.field, old.entity.value), None)
        if snooze is None:
            return
        self._by_key[key] = snooze
        if snooze.entity is None:
            self._groups[snooze.dedup_key or ""] = snooze
        else:
            self._entities[(snooze.entity.field, snooze.entity.value)] = snooze

    def covering(
        self, dedup_key: str, group: tuple[tuple[str, Any], ...], at_ms: int
    ) -> Snooze | None:
        """The snooze that holds a trigger of this group at event time `at_ms`, if any."""
        found = self._groups.get(dedup_key)
        if found is not None and found.active(at_ms):
            return found
        if self._entities:
            for field, value in group:
                found = self._entities.get((field, entity_text(value)))
                if found is not None and found.active(at_ms):
                    return found
        return None

    def snoozes(self) -> list[Snooze]:
        return sorted(self._by_key.values(), key=lambda s: (s.until_ms, s.key))
