"""What the engine hands to the alert path: one trigger or resolve with its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["trigger", "resolve"]
GroupKey = Any


@dataclass(frozen=True, slots=True)
class Evidence:
    """The facts behind a transition, as of the moment it happened (event time)."""

    value: Any = None
    window_start: int | None = None
    window_end: int | None = None
    sample_event_ids: tuple[str, ...] = ()
    top: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The group's events that `top` and the samples count: from this event time on, this many
    # (a group is counted from when it became warm, not over its whole window).
    counted_since: int | None = None
    counted_events: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    """A lifecycle decision for one group, at event time `at`."""

    action: Action
    key: GroupKey
    at: int
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Alert:
    rule_id: str
    action: Action
    group: tuple[tuple[str, Any], ...]
    at: int
    evidence: Evidence

    @property
    def group_dict(self) -> dict[str, Any]:
        return dict(self.group)
