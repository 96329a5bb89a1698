"""Pages against ground truth: which labelled scenarios were caught and how fast, which rules of
the catalogue no scenario exercises, and which pages were not explained by any label
(candidates for tuning)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from signalfire.timestamps import iso_ms

GRACE_MS = 3_600_000  # a page may come after the scenario ends (absence, resolve windows)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Catch:
    """One rule a scenario is labelled with, and the first page the rule raised for it."""

    scenario: str
    rule: str
    group: dict[str, Any]
    start_ts: int  # event time of the scenario's first abusive event (the label's start_ts)
    first_page: str | None = None  # the earliest explained trigger's payload.timestamp

    @property
    def caught(self) -> bool:
        return self.first_page is not None

    @property
    def latency_ms(self) -> int | None:
        """Detection latency in event time: abuse start to the page."""
        return None if self.first_page is None else page_ms(self.first_page) - self.start_ts


@dataclass(slots=True)
class RuleScore:
    rule: str
    expected: int  # scenarios labelled with the rule
    caught: int


@dataclass(slots=True)
class Scorecard:
    catches: list[Catch] = field(default_factory=list)
    unexplained: list[dict[str, Any]] = field(default_factory=list)
    rules: list[RuleScore] = field(default_factory=list)

    @property
    def missed(self) -> list[Catch]:
        return [c for c in self.catches if not c.caught]

    @property
    def uncovered(self) -> list[str]:
        """Rules of the catalogue that no selected scenario is labelled with."""
        return [r.rule for r in self.rules if not r.expected]

    def to_json(self) -> dict[str, Any]:
        return {
            "expected": len(self.catches),
            "caught": len(self.catches) - len(self.missed),
            "catches": [
                {
                    "scenario": c.scenario,
                    "rule": c.rule,
                    "group": c.group,
                    "caught": c.caught,
                    "abuse_start": iso_ms(c.start_ts),
                    "first_page": c.first_page,
                    "latency_ms": c.latency_ms,
                }
                for c in self.catches
            ],
            "rules": [
                {"rule": r.rule, "scenarios": r.expected, "caught": r.caught} for r in self.rules
            ],
            "unexplained": [
                {
                    "rule": m["payload"]["component"],
                    "group": m["payload"]["custom_details"]["group"],
                    "timestamp": m["payload"]["timestamp"],
                    "summary": m["payload"]["summary"],
                }
                for m in self.unexplained
            ],
        }


def page_ms(timestamp: str) -> int:
    """Epoch ms of a page's `payload.timestamp` (ISO-8601, ms precision)."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (moment - EPOCH) // timedelta(milliseconds=1)


def in_time_order(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pager messages by `payload.timestamp`, ties by rule then dedup key, then as given.

    The engine emits in processing order: a page that waits for the watermark (absence and
    sequence deadlines, resolves) comes out after pages of events up to the allowed lateness
    newer, and a page of a late event carries its older time.
    """
    return sorted(messages, key=time_order)


def time_order(message: dict[str, Any]) -> tuple[int, str, str]:
    """The sort key of `in_time_order`."""
    p = message["payload"]
    return (page_ms(p["timestamp"]), p["component"], message["dedup_key"])


def _same_group(label: dict[str, Any], page: dict[str, Any]) -> bool:
    common = label.keys() & page.keys()
    return bool(common) and all(label[k] == page[k] for k in common)


def _explains(label: dict[str, Any], message: dict[str, Any]) -> bool:
    p = message["payload"]
    at = page_ms(p["timestamp"])
    return (
        p["component"] in label["rules"]
        and label["start_ts"] <= at <= label["end_ts"] + GRACE_MS
        and _same_group(label["group"], p["custom_details"]["group"])
    )


def score(
    labels: Sequence[dict[str, Any]],
    messages: Iterable[dict[str, Any]],
    rules: Sequence[str] = (),
) -> Scorecard:
    """Score the triggers among `messages` against `labels`; `rules` (the catalogue's ids, in
    the order to report them) adds rules no label names to the per-rule view."""
    triggers = [m for m in messages if m["event_action"] == "trigger"]
    card = Scorecard()
    for label in labels:
        for rule in label["rules"]:
            hits = [
                m for m in triggers if m["payload"]["component"] == rule and _explains(label, m)
            ]
            first = min((m["payload"]["timestamp"] for m in hits), key=page_ms, default=None)
            card.catches.append(
                Catch(label["scenario"], rule, label["group"], label["start_ts"], first)
            )
    card.unexplained = [m for m in triggers if not any(_explains(lb, m) for lb in labels)]
    named = list(dict.fromkeys([*rules, *(c.rule for c in card.catches)]))
    for rule in named:
        mine = [c for c in card.catches if c.rule == rule]
        card.rules.append(RuleScore(rule, len(mine), sum(c.caught for c in mine)))
    return card
