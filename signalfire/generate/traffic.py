"""Putting it together: plan a run, then stream background and scenario events in time order.

`iter_events(config)` yields exactly `config.events` dicts; `labels(config)` gives the ground
truth. Both are pure functions of the config (each part of the run draws from its own
`random.Random` seeded from `config.seed`), so equal configs give identical output.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from operator import itemgetter
from typing import Any

from signalfire.generate.background import Event, TokenTables, iter_background
from signalfire.generate.config import GeneratorConfig
from signalfire.generate.population import (
    MIN_ORG_EPS,
    Ids,
    Org,
    allocate_rates,
    build_population,
    token_tables,
)
from signalfire.generate.scenarios import build_scenarios
from signalfire.generate.world import Scenario, World, min_duration_ms

_FLOOR_MARGIN = 1.5  # the background must be this much above the per-org floor rates


@dataclass(frozen=True)
class Plan:
    """A planned run: who exists, how fast each key sends, and the scenarios to inject."""

    config: GeneratorConfig
    orgs: list[Org]
    key_rates: list[list[float]]
    tables: TokenTables
    ids: Ids  # every id drawn while planning; the background forks from it
    duration_ms: int
    background_eps: float
    scenarios: list[Scenario]

    @property
    def end_ms(self) -> int:
        return self.config.start_ms + self.duration_ms


class TooFewEvents(ValueError):
    """`config.events` cannot fit the selected scenarios; `needed` is the least that can."""

    def __init__(self, needed: int, message: str) -> None:
        super().__init__(message)
        self.needed = needed


def build_plan(config: GeneratorConfig) -> Plan:
    """Plan a run. Raises TooFewEvents if `config.events` cannot fit the selected scenarios."""
    plan = _plan(config)
    if isinstance(plan, Plan):
        return plan
    needed, duration = plan
    needed = least_events(config, needed)
    raise TooFewEvents(
        needed,
        f"{config.events} events are too few for {config.orgs} orgs and the selected scenarios "
        f"over {duration // 60_000} min: use --events >= {needed}, fewer --orgs or "
        "fewer --scenarios",
    )


def least_events(config: GeneratorConfig, guess: int) -> int:
    """The fewest events, from `guess` up, with which `config` can be planned. What a run needs
    depends on its event count (the background rate shapes the scenarios), so the count one
    attempt asks for may fall short in turn: try until one fits."""
    events = guess
    while not isinstance(short := _plan(replace(config, events=events)), Plan):
        events = max(short[0], events + 1)
    return events


def _plan(config: GeneratorConfig) -> Plan | tuple[int, int]:
    """The plan or, if `config.events` are too few, the events and the duration (ms) it needs."""
    seed = config.seed
    pop_rng = random.Random(f"{seed}:population")
    ids = Ids(pop_rng)
    orgs = build_population(pop_rng, config.orgs, ids)
    tables = token_tables(random.Random(f"{seed}:tokens"))
    duration = max(
        math.ceil(config.events / config.rate * 1000.0),
        min_duration_ms(config.scenarios) if config.scenarios else 0,
        1000,
    )
    first_eps = config.events * 1000.0 / duration
    key_rates = allocate_rates(orgs, first_eps)
    scenario_ids = ids.fork(random.Random(f"{seed}:scenario-ids"))
    world = World(orgs, key_rates, tables, scenario_ids, config.start_ms, duration)
    scenarios = build_scenarios(world, seed, config.scenarios)
    end = config.start_ms + duration
    injected = sum(1 for s in scenarios for e in s.events if e["ts"] <= end)
    kept = 1.0
    rate_of = {org.org_id: sum(key_rates[i]) for i, org in enumerate(orgs)}
    for scenario in scenarios:
        for org_id, stop in scenario.stop_ms.items():
            kept -= rate_of[org_id] / first_eps * max(end - stop, 0) / duration
    floor_eps = MIN_ORG_EPS * len(orgs) * _FLOOR_MARGIN
    needed = injected + math.ceil(floor_eps * duration / 1000.0 * kept)
    if config.events < needed:
        return needed, duration
    background_eps = (config.events - injected) * 1000.0 / duration / kept
    key_rates = allocate_rates(orgs, background_eps)
    return Plan(config, orgs, key_rates, tables, scenario_ids, duration, background_eps, scenarios)


def _merged(background: Iterator[Event], injected: list[Event]) -> Iterator[Event]:
    """Merge two streams sorted by ts; on equal ts the injected event goes first."""
    n = len(injected)
    j = 0
    next_ts: float = injected[0]["ts"] if n else math.inf
    for event in background:
        ts = event["ts"]
        while next_ts <= ts:
            yield injected[j]
            j += 1
            next_ts = injected[j]["ts"] if j < n else math.inf
        yield event


def plan_events(plan: Plan) -> Iterator[Event]:
    """The events of a planned run (see `iter_events`)."""
    config = plan.config
    seed = config.seed
    stop: dict[str, int] = {}
    for scenario in plan.scenarios:
        stop.update(scenario.stop_ms)
    background = iter_background(
        plan.orgs,
        key_rates=plan.key_rates,
        tables=plan.tables,
        rng=random.Random(f"{seed}:background"),
        ids=plan.ids.fork(random.Random(f"{seed}:background-ids")),
        start_ms=config.start_ms,
        stop_ms=stop,
    )
    # copies: event_id and ts are set below, and a plan may be replayed
    injected: list[Event] = []
    # A label's start_ts is the event time of its first abusive event: late delivery must not
    # move an abusive event before it. Keyed by identity: the copies live as long as the run.
    floors: dict[int, int] = {}
    for scenario in plan.scenarios:
        for original in scenario.events:
            event = dict(original)
            injected.append(event)
            if event["ts"] >= scenario.start_ts:
                floors[id(event)] = scenario.start_ts
    injected.sort(key=itemgetter("ts"))
    late = random.Random(f"{seed}:late").random
    late_p = config.late_fraction if config.max_lateness_ms > 0 else 0.0
    max_late = config.max_lateness_ms
    prefix = f"e-{seed}-"
    for n, event in enumerate(islice(_merged(background, injected), config.events)):
        event["event_id"] = f"{prefix}{n}"
        if late() < late_p:
            ts = event["ts"] - 1 - int(late() * max_late)
            event["ts"] = max(ts, floors.get(id(event), ts))
        yield event


def iter_events(config: GeneratorConfig) -> Iterator[Event]:
    """Exactly `config.events` events, in output order.

    `ts` is non-decreasing except for about `late_fraction` of the events, which are 1 ms to
    `max_lateness_ms` older than their position (late delivery). `event_id` is `e-<seed>-<n>`.
    """
    return plan_events(build_plan(config))


def labels(config: GeneratorConfig) -> list[dict[str, Any]]:
    """Ground truth: one label per selected scenario, in catalogue order."""
    return [scenario.label() for scenario in build_plan(config).scenarios]
