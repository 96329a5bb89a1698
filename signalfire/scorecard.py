"""Pages against ground truth: which labelled scenarios were caught, and which pages were not
explained by any label (candidates for tuning)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GRACE_MS = 3_600_000  # a page may come after the scenario ends (absence, resolve windows)


@dataclass(slots=True)
class Catch:
    scenario: str
    rule: str
    group: dict[str, Any]
    caught: bool
    first_page: str | None = None


@dataclass(slots=True)
class Scorecard:
    catches: list[Catch] = field(default_factory=list)
    unexplained: list[dict[str, Any]] = field(default_factory=list)

    @property
    def missed(self) -> list[Catch]:
        return [c for c in self.catches if not c.caught]


def _ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


def _same_group(label: dict[str, Any], page: dict[str, Any]) -> bool:
    common = label.keys() & page.keys()
    return bool(common) and all(label[k] == page[k] for k in common)


def _explains(label: dict[str, Any], message: dict[str, Any]) -> bool:
    p = message["payload"]
    at = _ms(p["timestamp"])
    return (
        p["component"] in label["rules"]
        and label["start_ts"] <= at <= label["end_ts"] + GRACE_MS
        and _same_group(label["group"], p["custom_details"]["group"])
    )


def score(labels: Sequence[dict[str, Any]], messages: Iterable[dict[str, Any]]) -> Scorecard:
    triggers = [m for m in messages if m["event_action"] == "trigger"]
    card = Scorecard()
    for label in labels:
        for rule in label["rules"]:
            hits = [
                m for m in triggers if m["payload"]["component"] == rule and _explains(label, m)
            ]
            card.catches.append(
                Catch(
                    label["scenario"],
                    rule,
                    label["group"],
                    bool(hits),
                    hits[0]["payload"]["timestamp"] if hits else None,
                )
            )
    card.unexplained = [m for m in triggers if not any(_explains(lb, m) for lb in labels)]
    return card
