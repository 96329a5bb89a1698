"""The pager message's encoder and decoder: the contract's bytes, a lossless round trip, and a
reason for every message that is not one."""

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.message import pager_message
from alerting.pager import (
    ACTIONS,
    EVIDENCE_PARTS,
    Condition,
    Counted,
    Details,
    IncidentRef,
    Link,
    MessageError,
    PageEvidence,
    PagerMessage,
    Payload,
    RootRef,
    RuleRef,
    Window,
    decode,
    encode,
    to_json,
)
from alerting.redact import Redaction
from tests.unit.alerting.pager_samples import message
from tests.unit.alerting.test_message import ALERT, RULE
from tests.unit.alerting.test_message_limits import alerts

# The page of tests/unit/alerting/test_message.py, byte for byte: field order is part of the
# contract (a bridge or a receiver may compare pages as bytes).
CONTRACT_BYTES = (
    b'{"event_action":"trigger","dedup_key":"api_key_burst/da9689e7bf4907b4a44e4399443b5a13",'
    b'"payload":{"summary":"API key k_123 made 1,312 requests in 1m (threshold 1,000)",'
    b'"source":"signalfire","severity":"critical","timestamp":"2026-11-23T08:00:00.000Z",'
    b'"component":"api_key_burst","group":"org_id=o_1,api_key_id=k_123","class":"threshold",'
    b'"custom_details":{"rule":{"id":"api_key_burst","version":"VERSION",'
    b'"title":"API key request burst"},"group":{"org_id":"o_1","api_key_id":"k_123"},'
    b'"value":1312,"threshold":1000.0,"op":">","window":{"size_s":60.0,'
    b'"start":"2026-11-23T07:59:00.000Z","end":"2026-11-23T08:00:00.000Z"},'
    b'"evidence":{"sample_event_ids":["e1","e2"],"top":{"ip":[["1.2.3.4",900]]}},'
    b'"labels":{"team":"tns","severity":"page"},'
    b'"annotations":{"runbook":"https://runbooks.example/api-key-burst",'
    b'"summary":"API key {api_key_id} made {value} requests in {window} (threshold {threshold})",'
    b'"description":"too many requests"},"owner":"tns-oncall",'
    b'"entities":[{"name":"org_id","value":"o_1","ref":"org_id/58213fc231cbc80e","source":"group"},'
    b'{"name":"api_key_id","value":"k_123","ref":"api_key_id/0d0f8b4bf8768872","source":"group"}]}},'
    b'"links":[{"href":"https://runbooks.example/api-key-burst","text":"Runbook"}]}'
)


def test_encode_writes_the_contract_s_fields_in_the_contract_s_order():
    expected = CONTRACT_BYTES.replace(b"VERSION", RULE.version.encode())
    assert encode(pager_message(RULE, ALERT)) == expected
    assert orjson.loads(expected) == to_json(pager_message(RULE, ALERT))


def test_decode_reads_back_what_encode_wrote():
    m = pager_message(RULE, ALERT)
    assert decode(encode(m)) == m
    assert decode(CONTRACT_BYTES) == dataclasses.replace(
        m,
        payload=dataclasses.replace(
            m.payload,
            custom_details=dataclasses.replace(
                m.payload.custom_details, rule=RuleRef(RULE.id, "VERSION", RULE.title)
            ),
        ),
    )


def test_keys_a_message_does_not_name_are_ignored():
    data = orjson.loads(encode(message()))
    data["routing_key"] = "x"
    data["payload"]["custom_details"]["note"] = {"any": ["json"]}
    assert decode(orjson.dumps(data)) == message()


# -- every message round-trips -----------------------------------------------------------------
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
text = st.text(max_size=30)
text_map = st.dictionaries(text, text, max_size=4)
number = st.integers(-(10**9), 10**9) | st.floats(allow_nan=False, allow_infinity=False)


def maybe(part: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | part


@st.composite
def messages(draw: st.DrawFn) -> PagerMessage:
    """Any message the type can hold: every optional part present or absent, any JSON values
    where the contract allows any."""
    evidence = PageEvidence(
        sample_event_ids=tuple(draw(st.lists(text, max_size=4))),
        top=draw(
            st.dictionaries(
                text,
                st.lists(st.tuples(json_value, st.integers(0, 2**63 - 1)), max_size=3).map(tuple),
                max_size=3,
            )
        ),
        counted=draw(maybe(st.builds(Counted, text, st.integers(0, 10**9)))),
        extra=draw(
            st.dictionaries(text.filter(lambda k: k not in EVIDENCE_PARTS), json_value, max_size=3)
        ),
    )
    details = Details(
        rule=RuleRef(draw(text), draw(text), draw(text)),
        group=draw(st.dictionaries(text, json_scalar, max_size=4)),
        value=draw(json_value),
        evidence=evidence,
        labels=draw(text_map),
        annotations=draw(text_map),
        condition=draw(maybe(st.builds(Condition, number, text))),
        window=draw(maybe(st.builds(Window, number, text, text))),
        owner=draw(maybe(text)),
        truncated=draw(st.booleans()),
        omitted=tuple(draw(st.lists(text, max_size=3))),
    )
    payload = Payload(
        summary=draw(text),
        severity=draw(text),
        timestamp=draw(text),
        component=draw(text),
        group=draw(text),
        class_=draw(text),
        custom_details=details,
        source=draw(text),
    )
    links = tuple(draw(st.lists(st.builds(Link, text, text), max_size=2)))
    action = draw(st.sampled_from(ACTIONS))
    return PagerMessage(action, draw(text), payload, links)


@settings(max_examples=300, deadline=None)
@given(messages())
def test_any_message_round_trips(m):
    assert decode(encode(m)) == m
    assert orjson.loads(encode(m)) == to_json(m)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(alerts(), st.sampled_from([[], ["ip"], ["org_id", "attrs.*", "event_id", "country"]]))
def test_any_rendered_page_round_trips_to_its_bytes(case, fields):
    r, alert = case
    m = pager_message(r, alert, Redaction.of(fields))
    data = encode(m)
    assert decode(data) == m
    assert encode(decode(data)) == data


# -- what is not a message -------------------------------------------------------------------
def _broken(change: Any) -> bytes:
    data = orjson.loads(encode(message()))
    change(data)
    return orjson.dumps(data)


def _set(path: str, value: Any) -> Any:
    *parents, last = path.split(".")

    def change(data: dict[str, Any]) -> None:
        for key in parents:
            data = data[key]
        if value is _DELETE:
            del data[last]
        else:
            data[last] = value

    return change


_DELETE = object()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "message: expected an object"),
        (b"{}", "event_action: missing"),
        (_broken(_set("event_action", "acknowledge")), "event_action: expected trigger or resolve"),
        (_broken(_set("dedup_key", 7)), "dedup_key: expected a string"),
        (_broken(_set("payload", "sk-live-secret")), "payload: expected an object"),
        (_broken(_set("payload.summary", _DELETE)), "payload.summary: missing"),
        (_broken(_set("payload.class", None)), "payload.class: expected a string"),
        (_broken(_set("links", [{"href": "https://x"}])), "links[0].text: missing"),
    ],
)
def test_what_is_not_a_page_is_refused_with_the_field_at_fault(data, reason):
    with pytest.raises(MessageError) as raised:
        decode(data)
    assert str(raised.value) == reason
    assert "secret" not in str(raised.value)  # reasons go into dead-letter headers: no values


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("group", [], "group: expected an object"),
        ("value", _DELETE, "value: missing"),
        ("op", _DELETE, "op: missing"),
        ("threshold", True, "threshold: expected a number"),
        ("window.size_s", "60", "window.size_s: expected a number"),
        ("labels", {"team": 1}, "labels: expected an object of strings"),
        ("truncated", "yes", "truncated: expected true or false"),
        ("omitted", "evidence", "omitted: expected an array"),
        ("evidence.sample_event_ids", [1],
         "evidence.sample_event_ids: expected an array of strings"),
        ("evidence.top", {"ip": [["1.2.3.4"]]}, "evidence.top.ip[0]: expected [value, count]"),
        ("evidence.counted", {"since": "t", "events": 1.5},
         "evidence.counted.events: expected an integer"),
    ],
)  # fmt: skip
def test_details_that_are_not_a_page_s_are_refused_with_the_field_at_fault(field, value, reason):
    with pytest.raises(MessageError, match=r"^payload\.custom_details\.") as raised:
        decode(_broken(_set(f"payload.custom_details.{field}", value)))
    assert str(raised.value) == f"payload.custom_details.{reason}"


def test_a_shadow_rules_page_says_so_and_a_live_ones_does_not():
    live = message()
    assert "mode" not in to_json(live)["payload"]["custom_details"]["rule"]
    rule = dataclasses.replace(live.payload.custom_details.rule, mode="shadow")
    details = dataclasses.replace(live.payload.custom_details, rule=rule)
    shadow = dataclasses.replace(
        live, payload=dataclasses.replace(live.payload, custom_details=details)
    )
    assert to_json(shadow)["payload"]["custom_details"]["rule"]["mode"] == "shadow"
    assert decode(encode(shadow)) == shadow and decode(encode(live)) == live
    odd = encode(shadow).replace(b'"mode":"shadow"', b'"mode":"canary"')
    with pytest.raises(MessageError, match=r"rule.mode: expected live or shadow"):
        decode(odd)


def test_the_incident_the_bridge_adds_round_trips_and_is_checked():
    m = pager_message(RULE, ALERT)
    incident = IncidentRef(
        "inc_0123456789abcdef",
        "absorbed",
        RootRef("org_id", "o_1", "org_id/58213fc231cbc80e"),
        "2026-11-23T08:00:00.000Z",
        3,
        2,
        "flagged_surge/aa",
    )
    details = dataclasses.replace(m.payload.custom_details, incident=incident)
    with_incident = dataclasses.replace(
        m, payload=dataclasses.replace(m.payload, custom_details=details)
    )
    raw = encode(with_incident)
    assert decode(raw) == with_incident
    body = orjson.loads(raw)["payload"]["custom_details"]["incident"]
    assert body["root"] == {"name": "org_id", "value": "o_1", "ref": "org_id/58213fc231cbc80e"}
    assert list(body) == ["id", "status", "root", "opened_at", "pages", "firing", "absorbed_by"]
    bad = raw.replace(b'"status":"absorbed"', b'"status":"merged"')
    with pytest.raises(MessageError, match=r"payload.custom_details.incident.status: expected"):
        decode(bad)
