"""The shipped catalogue over generated traffic: every injected scenario is caught, and the
background raises no page (ground truth from the generator's label file)."""

import pytest

from alerting.pager import to_json
from signalfire.cli.backtest import run_backtest
from signalfire.generate import GeneratorConfig, iter_events, labels
from signalfire.rules import load_rules
from signalfire.scorecard import score
from signalfire.sources import lines_of


def batches(config, size=4000):
    return lines_of(iter_events(config), size)


@pytest.mark.parametrize(
    ("seed", "events", "late_fraction"),
    # half the events delivered late: no abusive event may move before its label's start
    [(7, 120_000, 0.01), (2026, 120_000, 0.01), (11, 60_000, 0.5)],
)
def test_catalogue_catches_every_scenario_and_nothing_else(seed, events, late_fraction):
    config = GeneratorConfig(seed=seed, events=events, late_fraction=late_fraction)
    rules = load_rules(["rules"]).rules
    result = run_backtest(rules, batches(config))
    card = score(labels(config), [to_json(m) for m in result.messages], [r.id for r in rules])
    assert card.catches and not card.missed, [(c.scenario, c.rule) for c in card.missed]
    assert card.unexplained == [], [m["payload"]["summary"] for m in card.unexplained]
    assert card.uncovered == []
    assert all(c.latency_ms is not None and c.latency_ms >= 0 for c in card.catches)
    assert result.late == 0 or result.late < result.events * 0.001


def test_catalogue_rules_all_valid_and_tested():
    rules = load_rules(["rules"]).rules
    assert len(rules) >= 12
    assert {r.detect.type for r in rules} == {
        "match", "threshold", "distinct", "ratio", "spike", "new_value", "absence", "sequence",
    }  # fmt: skip
    for r in rules:
        assert any(c.expect for c in r.tests) and any(not c.expect for c in r.tests), r.id
        assert r.annotations.get("runbook") and r.owner and r.description, r.id
