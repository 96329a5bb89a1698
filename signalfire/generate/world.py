"""What scenarios are built from (`World`) and what they produce (`Scenario`), with the time
each scenario needs (`TIMINGS`, `min_duration_ms`)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from signalfire.generate.background import Event, TokenTables
from signalfire.generate.population import Ids, Key, Org

MINUTE = 60_000


@dataclass(frozen=True)
class Timing:
    earliest_ms: int  # offset from the run start the scenario may begin at, at the soonest
    duration_ms: int  # length of the abusive activity (for silent_source: its share of the run)


TIMINGS: dict[str, Timing] = {
    "stolen_key_token_drain": Timing(65 * MINUTE, 10 * MINUTE),
    "scraping_burst": Timing(0, 3 * MINUTE),
    "trial_account_farm": Timing(0, 12 * MINUTE),
    "flagged_content_surge": Timing(40 * MINUTE, 10 * MINUTE),
    "signup_key_flagged": Timing(0, 12 * MINUTE),
    "silent_source": Timing(0, 15 * MINUTE),  # needs 30% of the run to be >= 15 min
    "scripted_free_tier": Timing(4 * MINUTE, 10 * MINUTE),  # signs up 4 min before it starts
    "child_safety_content": Timing(0, 5 * MINUTE),
    "context_stuffing": Timing(0, 8 * MINUTE),
    # the rule's hour after the failed payment, plus time for the watermark to pass it
    "failed_payment_usage": Timing(5 * MINUTE, 66 * MINUTE),
    "credential_stuffing": Timing(0, 4 * MINUTE),
}
SILENT_SHARE = 0.3


def min_duration_ms(names: tuple[str, ...]) -> int:
    """Shortest run in which every named scenario fits (start within [20%, 85%] of the run)."""
    need = 0.0
    for name in names:
        timing = TIMINGS[name]
        if name == "silent_source":
            need = max(need, timing.duration_ms / SILENT_SHARE)
        else:
            need = max(need, (timing.earliest_ms + timing.duration_ms) / 0.85, 20 * MINUTE)
    return math.ceil(need / MINUTE) * MINUTE


@dataclass
class World:
    """What scenarios build on: the population, its current rates and the run's time span."""

    orgs: list[Org]
    key_rates: list[list[float]]
    tables: TokenTables
    ids: Ids
    start_ms: int
    duration_ms: int
    used: set[str] = field(default_factory=set)

    def org_rate(self, index: int) -> float:
        return sum(self.key_rates[index])

    def by_rate(self) -> list[int]:
        return sorted(range(len(self.orgs)), key=lambda i: (-self.org_rate(i), i))

    def pick_org(self, rng: random.Random, lo_rank: int, hi_rank: int) -> int:
        ranked = [i for i in self.by_rate() if self.orgs[i].org_id not in self.used]
        window = ranked[lo_rank:hi_rank] or ranked[1:] or ranked
        index = window[rng.randrange(len(window))]
        self.used.add(self.orgs[index].org_id)
        return index

    def busiest_key(self, index: int) -> Key:
        rates = self.key_rates[index]
        return self.orgs[index].keys[max(range(len(rates)), key=lambda k: (rates[k], -k))]


@dataclass(frozen=True)
class Scenario:
    name: str
    start_ts: int
    end_ts: int
    group: dict[str, str]
    rules: tuple[str, ...]
    events: list[Event]
    stop_ms: dict[str, int] = field(default_factory=dict)  # org_id -> no events after

    def label(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "group": dict(self.group),
            "rules": list(self.rules),
        }
