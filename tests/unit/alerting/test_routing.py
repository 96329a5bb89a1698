"""Routes: first match wins, `continue` adds, the catch-all takes the rest."""

import pytest

from alerting.routing import Route, facts_of, sinks_for
from tests.unit.alerting.pager_samples import fanout, message

ROUTES = (
    Route(("pagerduty",), {"severity": ("critical",)}, continue_=True),
    Route(("growth-hook",), {"labels.team": ("growth",)}),
    Route(("alertmanager",), {}),
)


def test_facts_of_a_message():
    facts = facts_of(message())
    assert facts["severity"] == "critical" and facts["rule"] == "api_key_burst"
    assert facts["class"] == "threshold" and facts["action"] == "trigger"
    assert facts["labels.team"] == "tns" and facts["labels.abuse"] == "stolen_key"


@pytest.mark.parametrize(
    ("msg", "sinks"),
    [
        (message(), ("pagerduty", "alertmanager")),  # continue: falls through to the catch-all
        (message("resolve"), ("pagerduty", "alertmanager")),
        (fanout(), ("growth-hook",)),  # first match without continue stops
    ],
)
def test_sinks_for(msg, sinks):
    assert sinks_for(ROUTES, msg) == sinks


def test_a_list_of_values_matches_any_and_all_keys_must_match():
    routes = (
        Route(("a",), {"severity": ("warning", "critical"), "rule": ("api_key_burst",)}),
        Route(("b",), {}),
    )
    assert sinks_for(routes, message()) == ("a",)
    assert sinks_for(routes, fanout()) == ("b",)


def test_a_sink_named_twice_is_sent_once():
    routes = (Route(("a",), {}, continue_=True), Route(("a", "b"), {}))
    assert sinks_for(routes, message()) == ("a", "b")
