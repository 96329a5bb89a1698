"""What the engine hands to the alert path: one trigger or resolve with its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from signalfire.rules.model import Rule

Action = Literal["trigger", "resolve"]


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
class Alert:
    rule_id: str
    action: Action
    group: tuple[tuple[str, Any], ...]
    at: int
    evidence: Evidence
    # Parent entities the group's counted events all named, top-down: (name, value).
    parents: tuple[tuple[str, Any], ...] = ()

    @property
    def group_dict(self) -> dict[str, Any]:
        return dict(self.group)


def make_alert(
    rule: Rule, action: Action, group: tuple[tuple[str, Any], ...], at: int, evidence: Evidence
) -> Alert:
    """The alert of a transition. The detectors count the parent entity fields with the
    `evidence.top` ones (`Rule.counted_fields`): a parent whose counted events named one value
    is the group's; the counts themselves are shown only for the fields the rule asked for."""
    parents = rule.entities.parents
    if not parents:
        return Alert(rule.id, action, group, at, evidence)
    found = tuple(
        (name, values[0][0]) for name in parents if len(values := evidence.top.get(name, [])) == 1
    )
    unasked = {".".join(p) for p in rule.parent_counts}
    if any(name in unasked for name in evidence.top):
        top = {k: v for k, v in evidence.top.items() if k not in unasked}
        evidence = replace(evidence, top=top)
    return Alert(rule.id, action, group, at, evidence, found)
