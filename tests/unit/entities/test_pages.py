"""Every page names its entities: the group's, then the parents its counted events named."""

from typing import Any

import orjson
import pytest

from alerting.message import pager_message
from alerting.pager import Entity, decode, encode
from alerting.redact import Redaction
from signalfire.engine.settings import EngineSettings
from signalfire.entities import entity_ref
from signalfire.rules import Rule
from tests.reference.engine import Engine
from tests.unit.helpers import base_rule, ev, run

PER_KEY = base_rule(
    {"type": "threshold", "window": "60s", "threshold": 2},
    id="per_key",
    group_by=["org_id", "api_key_id"],
)
PER_IP = base_rule(
    {"type": "threshold", "window": "60s", "threshold": 2}, id="per_ip", group_by=["ip"]
)
PER_KEY_TOP = base_rule(
    {"type": "threshold", "window": "60s", "threshold": 2},
    id="per_key_top",
    group_by=["org_id", "api_key_id"],
    evidence={"top": ["ip", "account_id"]},
)


def key_event(ts: int, account: str = "a1", **kw: Any) -> dict[str, Any]:
    return ev(ts, "o1", api_key_id="k1", account_id=account, ip="10.0.0.1", **kw)


def entities(rule: Rule, events: list[dict[str, Any]], redact: str = "") -> list[Entity]:
    alerts = [a for a in run(rule, events) if a.action == "trigger"]
    assert alerts, "the rule fired"
    message = pager_message(rule, alerts[0], Redaction.of(redact.split(",")))
    assert decode(encode(message)) == message  # the field round-trips
    return list(message.payload.custom_details.entities)


def test_a_per_key_page_names_its_account_and_org() -> None:
    found = entities(PER_KEY, [key_event(t) for t in (1000, 2000, 3000)])
    assert [(e.name, e.value, e.source) for e in found] == [
        ("org_id", "o1", "group"),
        ("account_id", "a1", "events"),
        ("api_key_id", "k1", "group"),
    ]
    assert [e.ref for e in found] == [
        entity_ref("org_id", "o1"),
        entity_ref("account_id", "a1"),
        entity_ref("api_key_id", "k1"),
    ]


def test_a_parent_the_events_disagree_on_is_left_out() -> None:
    events = [key_event(1000, "a1"), key_event(2000, "a2"), key_event(3000, "a1")]
    assert [e.name for e in entities(PER_KEY, events)] == ["org_id", "api_key_id"]


def test_events_without_the_parent_field_do_not_count_against_it() -> None:
    events = [key_event(1000), ev(2000, "o1", api_key_id="k1"), key_event(3000)]
    assert [e.name for e in entities(PER_KEY, events)] == ["org_id", "account_id", "api_key_id"]


def test_a_side_entity_page_names_the_org_all_its_events_came_from() -> None:
    farm = [ev(t, "o9", ip="1.2.3.4", account_id=f"a{t}") for t in (1000, 2000, 3000)]
    found = entities(PER_IP, farm)
    assert [(e.name, e.source) for e in found] == [("org_id", "events"), ("ip", "group")]
    # one address behind many orgs: the address is the root
    spread = [ev(t, f"o{t}", ip="1.2.3.4", account_id="a1") for t in (1000, 2000, 3000)]
    found = entities(PER_IP, spread)
    assert [(e.name, e.source) for e in found] == [("account_id", "events"), ("ip", "group")]


def test_parents_are_not_shown_as_top_values_unless_the_rule_asks() -> None:
    events = [key_event(t) for t in (1000, 2000, 3000)]
    (alert, *_) = run(PER_KEY, events)
    assert alert.evidence.top == {}
    assert alert.parents == (("account_id", "a1"),)
    (alert, *_) = run(PER_KEY_TOP, events)
    assert alert.evidence.top == {"ip": [("10.0.0.1", 3)], "account_id": [("a1", 3)]}
    assert alert.parents == (("account_id", "a1"),)


def test_a_hidden_entity_shows_redacted_but_keeps_the_ref_of_its_value() -> None:
    farm = [ev(t, "o9", ip="1.2.3.4", account_id=f"a{t}") for t in (1000, 2000, 3000)]
    found = entities(PER_IP, farm, redact="ip,org_id")
    assert [(e.name, e.value) for e in found] == [("org_id", "[redacted]"), ("ip", "[redacted]")]
    assert [e.ref for e in found] == [entity_ref("org_id", "o9"), entity_ref("ip", "1.2.3.4")]
    raw = encode(pager_message(PER_IP, run(PER_IP, farm)[0], Redaction.of(["ip", "org_id"])))
    assert b"1.2.3.4" not in raw and b"o9" not in raw


def test_the_bridge_hides_entities_the_worker_showed() -> None:
    farm = [ev(t, "o9", ip="1.2.3.4", account_id=f"a{t}") for t in (1000, 2000, 3000)]
    message = pager_message(PER_IP, run(PER_IP, farm)[0])
    hidden = Redaction.of(["org_id"]).page(message)
    shown = [(e.name, e.value) for e in hidden.payload.custom_details.entities]
    assert shown == [("org_id", "[redacted]"), ("ip", "1.2.3.4")]
    assert b'"o9"' not in encode(hidden)


@pytest.mark.parametrize(
    "detect",
    [
        {"type": "match"},
        {"type": "new_value", "field": "country", "warmup": "0s"},
        {
            "type": "sequence",
            "within": "10m",
            "steps": [{"where": {"event_type": "signup"}}, {"where": {"event_type": "request"}}],
        },
        {"type": "distinct", "field": "ip", "window": "60s", "threshold": 1},
    ],
)
def test_every_detector_names_parents_and_the_reference_engine_agrees(
    detect: dict[str, Any],
) -> None:
    rule = base_rule(detect, id="r", group_by=["api_key_id"])
    events = [
        ev(1000, "o1", api_key_id="k1", account_id="a1", country="DE", event_type="signup"),
        ev(2000, "o1", api_key_id="k1", account_id="a1", country="FR", ip="1.1.1.1"),
        ev(3000, "o1", api_key_id="k1", account_id="a1", country="US", ip="2.2.2.2"),
    ]
    core = [a for a in run(rule, events) if a.action == "trigger"]
    assert core and all(a.parents == (("org_id", "o1"), ("account_id", "a1")) for a in core)
    reference = Engine([rule], EngineSettings())
    ref = reference.process(events) + reference.flush()
    assert [(a.action, a.at, a.parents) for a in ref] == [
        (a.action, a.at, a.parents) for a in run(rule, events)
    ]


def test_the_message_json_lists_entities_top_down() -> None:
    message = pager_message(PER_KEY, run(PER_KEY, [key_event(t) for t in (1000, 2000, 3000)])[0])
    body = orjson.loads(encode(message))["payload"]["custom_details"]["entities"]
    assert [e["name"] for e in body] == ["org_id", "account_id", "api_key_id"]
    assert set(body[1]) == {"name", "value", "ref", "source"}
