"""On generated traffic through the shipped catalogue, every labelled abuse scenario becomes one
incident: the pages of all the rules it raises, and no other scenario's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerting.incidents import Incident
from alerting.pager import to_json
from signalfire.cli.backtest import Backtest, BacktestResult
from signalfire.generate import GeneratorConfig, build_plan, plan_events
from signalfire.rules import load_rules
from signalfire.scorecard import GRACE_MS, page_ms
from signalfire.sources import lines_of

ROOT = Path(__file__).resolve().parents[3]
Label = dict[str, Any]  # a scenario's ground truth (signalfire.generate)
# The product's six: a stolen key draining tokens, a scraping burst, a trial-account farm, one
# IP behind many accounts, a flagged-content surge, a signup -> key -> flagged sequence.
SIX = (
    "stolen_key_token_drain",
    "scraping_burst",
    "trial_account_farm",
    "credential_stuffing",
    "flagged_content_surge",
    "signup_key_flagged",
)


@pytest.fixture(scope="module", params=[7, 2026])
def run(request: pytest.FixtureRequest) -> tuple[list[Label], BacktestResult]:
    plan = build_plan(GeneratorConfig(events=60_000, seed=request.param))
    bt = Backtest(load_rules([ROOT / "rules"]).rules)
    for lines in lines_of(plan_events(plan)):
        bt.feed(lines)
    return [s.label() for s in plan.scenarios], bt.finish()


def explained(label: Label, result: BacktestResult) -> set[str]:
    """Dedup keys of the triggers the label explains (its rules, its group, its time)."""
    keys = set()
    for m in result.messages:
        p = to_json(m)["payload"]
        at = page_ms(p["timestamp"])
        group = p["custom_details"]["group"]
        if (
            m.event_action == "trigger"
            and p["component"] in label["rules"]
            and label["start_ts"] <= at <= label["end_ts"] + GRACE_MS
            and all(group.get(k, v) == v for k, v in label["group"].items())
        ):
            keys.add(m.dedup_key)
    return keys


def incident_of(result: BacktestResult) -> dict[str, Incident]:
    return {p.dedup_key: i for i in result.incidents.incidents for p in i.pages}


def test_every_scenario_is_one_incident_with_the_rules_that_fired(
    run: tuple[list[Label], BacktestResult],
) -> None:
    labels, result = run
    by_page = incident_of(result)
    seen: dict[str, str] = {}
    for label in labels:
        name = str(label["scenario"])
        keys = explained(label, result)
        assert keys, f"{name}: no page"
        incidents = {by_page[k].id for k in keys}
        assert len(incidents) == 1, f"{name}: {len(incidents)} incidents"
        (incident_id,) = incidents
        incident = next(i for i in result.incidents.incidents if i.id == incident_id)
        assert set(incident.rules) == set(label["rules"]), name
        assert incident_id not in seen, f"{name} shares {seen.get(incident_id)}'s incident"
        seen[incident_id] = name
    assert set(SIX) <= {str(label["scenario"]) for label in labels}


def test_the_pairs_that_used_to_be_two_pages_are_one_incident(
    run: tuple[list[Label], BacktestResult],
) -> None:
    labels, result = run
    by_page = incident_of(result)
    by_name = {str(label["scenario"]): label for label in labels}
    for name, root in [
        ("stolen_key_token_drain", "org_id"),  # token_drain + new_country_for_key
        ("trial_account_farm", "org_id"),  # per-IP pages, the farm's one org from its events
        ("flagged_content_surge", "org_id"),  # flagged_surge + flagged_ratio
        ("credential_stuffing", "ip"),  # one IP across many orgs: the IP is the root
    ]:
        (incident,) = {by_page[k] for k in explained(by_name[name], result)}
        assert len(incident.pages) == 2 and incident.root.name == root, name
    # fewer incidents than pages: what on-call is paged for
    assert len(result.incidents.incidents) < result.incidents.pages


def test_two_orgs_never_share_an_incident(
    run: tuple[list[Label], BacktestResult],
) -> None:
    _, result = run
    for incident in result.incidents.incidents:
        orgs = {e.ref for e in incident.entities if e.name == "org_id"}
        assert len(orgs) <= 1, incident.id
