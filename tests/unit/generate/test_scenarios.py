"""Each labelled scenario clearly crosses its rules' thresholds, counted by brute force, every
rule of the catalogue has a scenario, and no rule fires for any group not labelled for it."""

from bisect import bisect_right
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from signalfire.generate import SCENARIO_NAMES, GeneratorConfig, Plan, build_plan, plan_events
from signalfire.rules import load_rules
from tests.unit.generate import (
    AUTOMATION_UA,
    MINUTE,
    firing_groups,
    group_by,
    max_gap,
    max_window_count,
    max_window_distinct,
    max_window_sum,
    spike_fires,
)
from tests.unit.generate.test_events import check_schema

CONFIG = GeneratorConfig(events=60_000)
ROOT = Path(__file__).resolve().parents[3]


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


def test_scripted_free_tier(run: Run) -> None:
    plan, events, labels = run
    label = labels["scripted_free_tier"]
    mine = [e for e in events if in_group(label)(e)]
    assert [e["event_type"] for e in mine[:2]] == ["signup", "key_created"]
    assert all(e["org_id"] == label["group"]["org_id"] for e in mine), "a new org of one account"
    requests = [e for e in mine if e["event_type"] == "request"]
    assert requests[0]["ts"] == label["start_ts"]
    assert all(AUTOMATION_UA.search(e["attrs"]["user_agent"]) for e in requests)
    assert all(e["attrs"]["plan"] == "free" for e in mine)
    assert all(not ip_address(e["ip"]).is_private for e in requests)
    assert len([e for e in requests if e["ts"] <= label["start_ts"] + 10 * MINUTE]) >= 60
    # the script keeps running: the new org is never silent for source_silent's 10 minutes
    assert max_gap(requests) < 5 * MINUTE
    assert plan.end_ms - requests[-1]["ts"] < 5 * MINUTE
    assert label["end_ts"] == plan.end_ms


def test_child_safety_content(run: Run) -> None:
    _, events, labels = run
    label = labels["child_safety_content"]
    mine = [e for e in events if in_group(label)(e) and e["event_type"] == "request"]
    csam = [e for e in mine if e["flagged"] and "sexual/minors" in e["categories"]]
    assert len(csam) == 3
    assert (csam[0]["ts"], csam[-1]["ts"]) == (label["start_ts"], label["end_ts"])
    assert csam[-1]["ts"] - csam[0]["ts"] <= 5 * MINUTE
    assert mine[0]["ts"] < label["start_ts"] - 10 * MINUTE, "an established account"
    assert sum("sexual/minors" in e.get("categories", ()) for e in events) == len(csam)


def test_context_stuffing(run: Run) -> None:
    _, events, labels = run
    label = labels["context_stuffing"]
    mine = [e for e in events if in_group(label)(e) and e["event_type"] == "request"]
    stuffed = [e for e in mine if e["prompt_tokens"] > 100_000]
    assert len(stuffed) == 6
    assert min(e["prompt_tokens"] for e in stuffed) >= 110_000, "far above the limit"
    assert all(e["prompt_tokens"] <= 128_000 and e["model"] == "atlas-4o" for e in stuffed)
    assert (stuffed[0]["ts"], stuffed[-1]["ts"]) == (label["start_ts"], label["end_ts"])
    assert max_window_sum(mine, 5 * MINUTE, lambda e: e["completion_tokens"]) < 100_000
    assert mine[0]["ts"] < label["start_ts"] - 10 * MINUTE, "an established key"


def test_failed_payment_usage(run: Run) -> None:
    plan, events, labels = run
    label = labels["failed_payment_usage"]
    mine = [e for e in events if in_group(label)(e)]
    (failed,) = [e for e in mine if e["event_type"] == "payment_failed"]
    assert failed["ts"] == label["start_ts"]
    assert label["end_ts"] == failed["ts"] + 60 * MINUTE
    assert not [e for e in mine if e["event_type"] == "payment_succeeded"]
    after = [e["ts"] for e in mine if e["event_type"] == "request" and e["ts"] > failed["ts"]]
    # 100 requests come within 5 minutes of the failure, far inside the rule's hour ...
    assert after[99] - failed["ts"] < 5 * MINUTE
    # ... and the run goes on long past the hour, so the watermark passes the deadline
    assert plan.end_ms - label["end_ts"] >= 5 * MINUTE
    assert max(max_gap([e for e in mine if e["event_type"] == "request"]), 0) < 5 * MINUTE
    assert plan.end_ms - after[-1] < 5 * MINUTE, "the org never falls silent"


def test_credential_stuffing(run: Run) -> None:
    _, events, labels = run
    label = labels["credential_stuffing"]
    mine = [e for e in events if in_group(label)(e)]
    assert {e["event_type"] for e in mine} == {"login"}
    failures = [e for e in mine if e["status"] == 401]
    assert len(failures) / len(mine) > 0.9
    assert max_window_count(failures, 5 * MINUTE) > 2 * 50
    assert max_window_distinct(mine, 10 * MINUTE, "account_id") > 4 * 20
    assert (mine[0]["ts"], mine[-1]["ts"]) == (label["start_ts"], label["end_ts"])
    # the leaked list spares the other scenarios' orgs
    others = {lb["group"].get("org_id") for lb in labels.values()}
    assert not others & {e["org_id"] for e in mine}
    broken = [e["account_id"] for e in mine if e["status"] == 200]
    assert len(set(broken)) == len(broken), "no more tries once a password worked"


def catalogue() -> set[str]:
    return {rule.id for rule in load_rules([str(ROOT / "rules")]).rules}


def test_every_catalogue_rule_has_a_scenario(run: Run) -> None:
    """A rule added to rules/ without a scenario fails here (and without a brute-force count,
    in the test below)."""
    plan, _, _ = run
    labelled = {rule for scenario in plan.scenarios for rule in scenario.rules}
    assert sorted(catalogue() - labelled) == [], "rules no scenario is labelled with"
    assert labelled <= catalogue()


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
    assert set(fired) == catalogue()
    assert {rule: groups for rule, groups in fired.items() if groups} == expected


@pytest.mark.parametrize(
    ("name", "rules"),
    # failed_payment_usage alone makes the shortest run that still passes its hour
    [("scraping_burst", ["api_key_burst"]), ("failed_payment_usage", ["unpaid_heavy_usage"])],
)
def test_a_subset_of_scenarios(name: str, rules: list[str]) -> None:
    plan = build_plan(GeneratorConfig(events=25_000, scenarios=(name,)))
    events = list(plan_events(plan))
    assert [s.name for s in plan.scenarios] == [name]
    fired = {rule: groups for rule, groups in firing_groups(events).items() if groups}
    assert fired == {rule: {tuple(plan.scenarios[0].group.items())} for rule in rules}
