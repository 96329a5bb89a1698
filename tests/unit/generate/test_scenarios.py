"""Each labelled scenario clearly crosses its rules' thresholds, counted by brute force, and no
rule of the catalogue fires for any group that is not labelled for it."""

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

import pytest

from signalfire.generate import SCENARIO_NAMES, GeneratorConfig, Plan, build_plan, plan_events
from tests.unit.generate import (
    MINUTE,
    firing_groups,
    group_by,
    max_window_count,
    max_window_distinct,
    max_window_sum,
    spike_fires,
)
from tests.unit.generate.test_events import check_schema

CONFIG = GeneratorConfig(events=60_000)


Event = dict[str, Any]
Label = dict[str, Any]
Run = tuple[Plan, list[Event], dict[str, Label]]


@pytest.fixture(scope="module")
def run() -> Run:
    plan = build_plan(CONFIG)
    events = list(plan_events(plan))
    return plan, events, {s.name: s.label() for s in plan.scenarios}


def in_group(label: Label) -> Callable[[Event], bool]:
    return lambda e: all(e.get(k) == v for k, v in label["group"].items())


def test_labels_shape_and_timing(run: Run) -> None:
    plan, _, labels = run
    assert list(labels) == list(SCENARIO_NAMES)
    start = CONFIG.start_ms
    groups = [tuple(sorted(label["group"].items())) for label in labels.values()]
    assert len(set(groups)) == len(groups)
    orgs = [label["group"].get("org_id") for label in labels.values()]
    orgs = [o for o in orgs if o]
    assert len(set(orgs)) == len(orgs), "no two scenarios share an org"
    for label in labels.values():
        assert start + 0.2 * plan.duration_ms <= label["start_ts"] <= label["end_ts"]
        assert label["end_ts"] <= plan.end_ms
    for scenario in plan.scenarios:
        for event in scenario.events:
            check_schema(event)


def test_stolen_key_token_drain(run: Run) -> None:
    _, events, labels = run
    label = labels["stolen_key_token_drain"]
    mine = [e for e in events if in_group(label)(e) and e["event_type"] == "request"]
    assert max_window_sum(mine, 5 * MINUTE, lambda e: e["completion_tokens"]) > 10 * 200_000
    home = mine[0]["country"]
    foreign = [e for e in mine if e["country"] != home]
    assert len({e["country"] for e in foreign}) == 1
    assert {e["ip"] for e in foreign}.isdisjoint({e["ip"] for e in mine if e["country"] == home})
    # seen from home in the first minute, abroad only after a 1h new_value warmup
    assert mine[0]["ts"] < CONFIG.start_ms + MINUTE
    assert foreign[0]["ts"] - mine[0]["ts"] > 60 * MINUTE
    assert label["start_ts"] - 5000 <= foreign[0]["ts"] <= foreign[-1]["ts"] <= label["end_ts"]
    assert 4 <= len(foreign) / 600 <= 6
    assert max_window_count(mine, MINUTE) < 1000, "not a burst"


def test_scraping_burst(run: Run) -> None:
    _, events, labels = run
    label = labels["scraping_burst"]
    mine = [e for e in events if in_group(label)(e) and e["event_type"] == "request"]
    assert max_window_count(mine, MINUTE) > 2 * 1000
    assert max_window_sum(mine, 5 * MINUTE, lambda e: e["completion_tokens"]) < 200_000
    assert len({e["country"] for e in mine}) == 1


def test_trial_account_farm(run: Run) -> None:
    _, events, labels = run
    label = labels["trial_account_farm"]
    mine = [e for e in events if in_group(label)(e)]
    signups = [e for e in mine if e["event_type"] == "signup"]
    assert len(signups) == 30
    assert all(e["attrs"]["plan"] == "free" for e in signups)
    assert len({e["account_id"] for e in signups}) == 30
    assert max_window_count(signups, 10 * MINUTE) > 5 * 5
    assert max_window_distinct(mine, 10 * MINUTE, "account_id") > 20
    assert signups[-1]["ts"] - signups[0]["ts"] <= 8 * MINUTE
    for signup in signups:
        requests = [
            e
            for e in mine
            if e["account_id"] == signup["account_id"]
            and e["event_type"] == "request"
            and e["ts"] <= label["end_ts"]
        ]
        assert 3 <= len(requests) <= 5
        assert not any(e["flagged"] for e in requests)


def test_flagged_content_surge(run: Run) -> None:
    _, events, labels = run
    label = labels["flagged_content_surge"]
    org = [e for e in events if in_group(label)(e)]
    requests = [e for e in org if e["event_type"] == "request"]
    during = [e for e in requests if label["start_ts"] <= e["ts"] <= label["end_ts"]]
    share = sum(e["flagged"] for e in during) / len(during)
    assert 0.4 <= share <= 0.75
    # every full 5 min window of the surge has >= 100 requests, ratio far above 0.3
    for offset in (5 * MINUTE, 7 * MINUTE, 10 * MINUTE):
        end = label["start_ts"] + offset
        window = [e for e in requests if end - 5 * MINUTE < e["ts"] <= end]
        assert len(window) >= 100
        assert sum(e["flagged"] for e in window) / len(window) > 0.4
    flagged = [e["ts"] for e in requests if e["flagged"]]
    before = [t for t in flagged if t < label["start_ts"]]
    assert len(before) >= 6 * 5 * 2 // 5, "a steady trickle gives the spike a baseline"
    assert spike_fires(flagged, org[0]["ts"], 5 * MINUTE, 5, 6, 20)
    # ... and by a wide margin: factor 5 holds even with a baseline 3x as large
    t = label["start_ts"] + 5 * MINUTE
    current = bisect_right(flagged, t) - bisect_right(flagged, t - 5 * MINUTE)
    baseline = (bisect_right(flagged, t - 5 * MINUTE) - bisect_right(flagged, t - 35 * MINUTE)) / 6
    assert current >= 20
    assert 0 < 3 * baseline * 5 <= current


def test_signup_key_flagged(run: Run) -> None:
    _, events, labels = run
    label = labels["signup_key_flagged"]
    mine = [e for e in events if in_group(label)(e)]
    kinds = [e["event_type"] for e in mine]
    assert kinds[:2] == ["signup", "key_created"]
    assert mine[1]["ts"] - mine[0]["ts"] == 2 * MINUTE
    flagged = [e for e in mine[2:] if e["flagged"]]
    assert len(flagged) == 6
    assert flagged[-1]["ts"] - mine[1]["ts"] <= 10 * MINUTE
    assert all(e["api_key_id"] == mine[1]["api_key_id"] for e in mine[2:])
    assert (mine[0]["ts"], mine[-1]["ts"]) == (label["start_ts"], label["end_ts"])


def test_silent_source(run: Run) -> None:
    plan, events, labels = run
    label = labels["silent_source"]
    mine = [e for e in events if in_group(label)(e)]
    end = max(e["ts"] for e in events)
    assert mine[-1]["ts"] <= label["start_ts"]
    assert end - label["start_ts"] > 10 * MINUTE + 30_000
    assert label["start_ts"] == CONFIG.start_ms + int(0.7 * plan.duration_ms)
    busy = max(len(v) for v in group_by(events, ("org_id",)).values())
    assert len(mine) > busy / 10, "one of the busiest orgs"


@pytest.mark.parametrize("seed", [7, 2026])
def test_rules_fire_exactly_for_the_labelled_groups(seed: int, run: Run) -> None:
    if seed == CONFIG.seed:
        plan, events, _ = run
    else:
        plan = build_plan(GeneratorConfig(events=60_000, seed=seed))
        events = list(plan_events(plan))
    expected: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for scenario in plan.scenarios:
        for rule in scenario.rules:
            expected.setdefault(rule, set()).add(tuple(scenario.group.items()))
    fired = firing_groups(events)
    assert {rule: groups for rule, groups in fired.items() if groups} == expected


def test_a_subset_of_scenarios() -> None:
    plan = build_plan(GeneratorConfig(events=20_000, scenarios=("scraping_burst",)))
    events = list(plan_events(plan))
    assert [s.name for s in plan.scenarios] == ["scraping_burst"]
    fired = {rule: groups for rule, groups in firing_groups(events).items() if groups}
    assert fired == {"api_key_burst": {tuple(plan.scenarios[0].group.items())}}
