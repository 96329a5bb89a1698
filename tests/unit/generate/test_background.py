"""The background alone stays well under every rule threshold, at full rate and with saturated
keys, and has the shape the brief asks for."""

from collections import Counter
from typing import Any

import pytest

from signalfire.generate import GeneratorConfig, build_plan, iter_events, plan_events
from signalfire.generate.population import KEY_CAP_EPS
from tests.unit.generate import (
    MINUTE,
    firing_groups,
    group_by,
    max_gap,
    max_window_count,
    max_window_distinct,
    max_window_sum,
)

KEY = ("org_id", "api_key_id")
# full default rate over the 300 default orgs; few orgs at a high rate, so keys hit their cap
CONFIGS = {
    "default-rate": GeneratorConfig(events=100_000, rate=2000, scenarios=()),
    "saturated-keys": GeneratorConfig(events=110_000, rate=350, orgs=30, scenarios=(), seed=3),
}


Event = dict[str, Any]


def is_request(event: Event) -> bool:
    return bool(event["event_type"] == "request")


@pytest.fixture(scope="module", params=list(CONFIGS))
def background(request: pytest.FixtureRequest) -> list[Event]:
    name: str = request.param
    return list(iter_events(CONFIGS[name]))


@pytest.fixture(scope="module")
def with_scenarios() -> tuple[list[Event], set[str]]:
    """The background of a run with every scenario: events of the scenarios' groups removed,
    except those of the silent org; and the orgs whose traffic a scenario changed (the silent
    one, and those where only a key's or an account's events were removed)."""
    plan = build_plan(GeneratorConfig(events=60_000))
    groups = [s.group for s in plan.scenarios if s.name != "silent_source"]
    events = [
        e
        for e in plan_events(plan)
        if not any(all(e.get(k) == v for k, v in g.items()) for g in groups)
    ]
    changed = {s.group["org_id"] for s in plan.scenarios if "org_id" in s.group}
    return events, changed


def test_no_rule_fires_on_background(background: list[Event]) -> None:
    assert not any(firing_groups(background).values())


def test_per_key_and_per_ip_peaks_are_far_below_thresholds(background: list[Event]) -> None:
    keys = group_by(background, KEY, is_request)
    assert max(max_window_count(v, MINUTE) for v in keys.values()) <= 1.6 * KEY_CAP_EPS * 60
    tokens = max(
        max_window_sum(v, 5 * MINUTE, lambda e: e["completion_tokens"]) for v in keys.values()
    )
    assert tokens < 150_000
    assert max(e["prompt_tokens"] for e in background if is_request(e)) < 32_000
    ips = group_by(background, ("ip",))
    assert max(max_window_distinct(v, 10 * MINUTE, "account_id") for v in ips.values()) <= 5
    signups = group_by(background, ("ip",), lambda e: e["event_type"] == "signup")
    assert max((max_window_count(v, 10 * MINUTE) for v in signups.values()), default=0) <= 2
    for items in keys.values():
        assert len({e["country"] for e in items}) == 1
        assert len({e["ip"] for e in items}) <= 3


def test_background_of_a_scenario_run(with_scenarios: tuple[list[Event], set[str]]) -> None:
    events, changed = with_scenarios
    keys = group_by(events, KEY, is_request)
    assert max(max_window_count(v, MINUTE) for v in keys.values()) <= 300
    assert (
        max(max_window_sum(v, 5 * MINUTE, lambda e: e["completion_tokens"]) for v in keys.values())
        < 150_000
    )
    for org, items in group_by(events, ("org_id",)).items():
        if org[0] not in changed:
            assert max_gap(items) < 5 * MINUTE, "every org keeps sending"


def test_population_shape() -> None:
    plan = build_plan(GeneratorConfig(events=100_000, rate=2000, scenarios=()))
    assert len(plan.orgs) == 300
    for org in plan.orgs:
        assert 1 <= len(org.accounts) <= 20
        per_account = Counter(k.account_id for k in org.keys)
        assert set(per_account.values()) <= {1, 2, 3}
        for key in org.keys:
            assert 1 <= len(key.ips) <= 3
    rates = sorted((sum(r) for r in plan.key_rates), reverse=True)
    assert rates[0] > 20 * rates[-1], "skewed"
    assert rates[0] > 5 * rates[len(rates) // 2], "zipf-like"
    assert sum(rates) == pytest.approx(2000, rel=0.01)
    assert max(r for org in plan.key_rates for r in org) <= KEY_CAP_EPS


def test_flagged_share_is_even(with_scenarios: tuple[list[Event], set[str]]) -> None:
    events, _ = with_scenarios
    requests = [e for e in events if is_request(e)]
    share = sum(e["flagged"] for e in requests) / len(requests)
    assert 0.004 < share < 0.006
    big = [v for v in group_by(requests, ("org_id",)).values() if len(v) >= 2000]
    assert big
    for items in big:
        assert sum(e["flagged"] for e in items) / len(items) < 0.012


def test_signups_are_rare_and_never_lead_to_flagged_requests(
    with_scenarios: tuple[list[Event], set[str]],
) -> None:
    events, _ = with_scenarios
    signups = [e for e in events if e["event_type"] == "signup"]
    assert 0 < len(signups) < 0.001 * len(events)
    new_accounts = {e["account_id"] for e in signups}
    assert not [
        e for e in events if e["account_id"] in new_accounts and e["event_type"] != "signup"
    ]


def test_auth_failures_are_rare(with_scenarios: tuple[list[Event], set[str]]) -> None:
    events, _ = with_scenarios
    assert sum(e["status"] in (401, 403) for e in events) / len(events) < 0.004
