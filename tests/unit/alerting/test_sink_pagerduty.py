"""The PagerDuty sink: the message is the envelope; the routing key is added, never shown."""

import dataclasses

import orjson
import pytest

from alerting.pager import to_json
from alerting.sinks.base import Refused
from alerting.sinks.pagerduty import EVENTS_URL, MAX_BODY, PagerDutySink
from tests.unit.alerting.pager_samples import message

KEY = "R0UT1NGKEY0000000000000000000000"


def test_envelope_with_routing_key():
    s = PagerDutySink("pd", EVENTS_URL, KEY)
    m = message()
    body = orjson.loads(s.request(m, b"", 0).body)
    assert body["routing_key"] == KEY
    assert {k: v for k, v in body.items() if k != "routing_key"} == to_json(m)
    assert KEY not in repr(s)


def test_oversized_event_is_refused_not_retried():
    s = PagerDutySink("pd", EVENTS_URL, KEY)
    m = message()
    d = m.payload.custom_details
    evidence = dataclasses.replace(d.evidence, extra={"padding": "x" * MAX_BODY})
    details = dataclasses.replace(d, evidence=evidence)
    m = dataclasses.replace(m, payload=dataclasses.replace(m.payload, custom_details=details))
    with pytest.raises(Refused, match="limit"):
        s.request(m, b"", 0)
