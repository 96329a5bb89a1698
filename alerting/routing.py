"""Routes: which sinks a pager message goes to, by severity, rule, detector class or rule label.

Routes are tried in order; the first that matches decides, unless it says `continue`, in which
case later matching routes add their sinks too. The last route matches everything, so every
message has at least one sink (the config loader insists on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerting.pager import PagerMessage

# What a route can match on, and where the value sits in a pager message.
MATCH_KEYS = ("severity", "rule", "class", "action")
LABEL_PREFIX = "labels."


@dataclass(frozen=True, slots=True)
class Route:
    sinks: tuple[str, ...]
    match: Mapping[str, tuple[str, ...]]  # key -> accepted values; empty matches everything
    continue_: bool = False

    def matches(self, facts: Mapping[str, str]) -> bool:
        return all(facts.get(key) in values for key, values in self.match.items())


def facts_of(message: PagerMessage) -> dict[str, str]:
    """The matchable values of one pager message, as strings."""
    p = message.payload
    facts = {
        "severity": p.severity,
        "rule": p.component,
        "class": p.class_,
        "action": message.event_action,
    }
    facts.update((LABEL_PREFIX + k, v) for k, v in p.custom_details.labels.items())
    return facts


def sinks_for(routes: Sequence[Route], message: PagerMessage) -> tuple[str, ...]:
    facts = facts_of(message)
    chosen: dict[str, None] = {}
    for route in routes:
        if route.matches(facts):
            chosen.update(dict.fromkeys(route.sinks))
            if not route.continue_:
                break
    return tuple(chosen)
