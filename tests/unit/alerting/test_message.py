"""Pager messages: CONTRACTS.md section 2 shape, stable dedup keys, limits."""

import orjson
import pytest

from alerting.message import dedup_key, fingerprint, pager_message
from alerting.pager import encode, to_json
from signalfire.engine.alert import Alert, Evidence
from signalfire.engine.core import CoreEngine
from signalfire.events import MAX_TS_MS
from signalfire.timestamps import iso_ms
from tests.unit.helpers import base_rule, rule

RULE = rule("""\
id: api_key_burst
title: API key request burst
description: too many requests
severity: critical
owner: tns-oncall
labels: {team: tns, severity: page}
annotations:
  runbook: https://runbooks.example/api-key-burst
  summary: "API key {api_key_id} made {value} requests in {window} (threshold {threshold})"
group_by: [org_id, api_key_id]
detect: {type: threshold, window: 60s, threshold: 1000}
evidence: {top: [ip]}
""")

ALERT = Alert(
    "api_key_burst",
    "trigger",
    (("org_id", "o_1"), ("api_key_id", "k_123")),
    1_795_420_800_000,
    Evidence(
        value=1312,
        window_start=1_795_420_740_000,
        window_end=1_795_420_800_000,
        sample_event_ids=("e1", "e2"),
        top={"ip": [("1.2.3.4", 900)]},
    ),
)


def test_message_shape_matches_contract():
    m = to_json(pager_message(RULE, ALERT))
    assert m["event_action"] == "trigger"
    assert m["dedup_key"].startswith("api_key_burst/") and len(m["dedup_key"]) <= 255
    p = m["payload"]
    assert p["summary"] == "API key k_123 made 1,312 requests in 1m (threshold 1,000)"
    assert p["source"] == "signalfire" and p["severity"] == "critical"
    assert p["timestamp"] == "2026-11-23T08:00:00.000Z"
    assert p["component"] == "api_key_burst" and p["class"] == "threshold"
    assert p["group"] == "org_id=o_1,api_key_id=k_123"
    d = p["custom_details"]
    assert d["rule"] == {"id": "api_key_burst", "version": RULE.version, "title": RULE.title}
    assert d["group"] == {"org_id": "o_1", "api_key_id": "k_123"}
    assert (d["value"], d["threshold"], d["op"]) == (1312, 1000, ">")
    assert d["window"] == {
        "size_s": 60.0,
        "start": "2026-11-23T07:59:00.000Z",
        "end": "2026-11-23T08:00:00.000Z",
    }
    assert d["evidence"] == {"sample_event_ids": ["e1", "e2"], "top": {"ip": [["1.2.3.4", 900]]}}
    assert d["labels"] == {"team": "tns", "severity": "page"}
    assert d["annotations"]["runbook"] == "https://runbooks.example/api-key-burst"
    assert d["annotations"]["description"] == "too many requests"
    assert m["links"] == [{"href": "https://runbooks.example/api-key-burst", "text": "Runbook"}]


def test_resolve_has_same_key_and_fields():
    resolve = Alert(ALERT.rule_id, "resolve", ALERT.group, ALERT.at + 1, Evidence(value=3))
    a, b = to_json(pager_message(RULE, ALERT)), to_json(pager_message(RULE, resolve))
    assert b["event_action"] == "resolve" and a["dedup_key"] == b["dedup_key"]
    assert b["payload"]["custom_details"]["rule"] == a["payload"]["custom_details"]["rule"]
    assert b["payload"]["summary"].startswith("RESOLVED: ")


def test_dedup_key_depends_only_on_rule_and_group():
    g = (("org_id", "o"), ("api_key_id", "k"))
    assert dedup_key("r", g) == dedup_key("r", tuple(g))
    assert dedup_key("r", g) != dedup_key("r2", g)
    assert dedup_key("r", g) != dedup_key("r", (("org_id", "o"), ("api_key_id", "k2")))
    assert fingerprint((("n", 1),)) != fingerprint((("n", "1"),))
    # Pinned: a change here would re-key every open incident downstream.
    assert dedup_key("api_key_burst", (("org_id", "o_1"), ("api_key_id", "k_123"))) == (
        "api_key_burst/da9689e7bf4907b4a44e4399443b5a13"
    )


def test_summary_and_key_limits():
    long_group = (("org_id", "x" * 5000),)
    alert = Alert("api_key_burst", "trigger", long_group, 0, Evidence(value=1))
    m = to_json(pager_message(RULE, alert))
    assert len(m["payload"]["summary"]) <= 1024
    assert len(m["dedup_key"]) <= 255


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_795_420_800_123, "2026-11-23T08:00:00.123Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-3650 * 86_400_000, "1960-01-04T00:00:00.000Z"),  # first event time minus 3650d
        (MAX_TS_MS - 1 + 3650 * 86_400_000, "5148-11-13T09:46:39.999Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),  # years below 1000 keep 4 digits
        (-30_610_224_000_000, "1000-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        # Beyond what ISO-8601 years 1..9999 can spell: held at the ends, never an exception.
        (-62_135_596_800_001, "0001-01-01T00:00:00.000Z"),
        (-(10**30), "0001-01-01T00:00:00.000Z"),
        (253_402_300_800_000, "9999-12-31T23:59:59.999Z"),
        (10**30, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_iso_ms(ms, text):
    assert iso_ms(ms) == text


def test_a_value_beyond_64_bit_integers_pages_as_a_json_number() -> None:
    """A sum of huge event values is exact in the engine; the page carries it as the nearest
    JSON number orjson can write, rather than failing to render it."""
    rule = base_rule(
        {"type": "threshold", "aggregate": "sum", "field": "attrs.n", "window": "1m",
         "threshold": 2e19},
        id="huge_sum",
    )  # fmt: skip
    events = [
        orjson.dumps(
            {"event_id": f"e{i}", "org_id": "o", "ts": 1_000 + i, "attrs": {"n": 2**64 - 1}}
        )
        for i in range(2)
    ]
    (alert,) = CoreEngine([rule]).process(events).alerts
    assert alert.evidence.value == 2**65 - 2
    page = orjson.loads(encode(pager_message(rule, alert)))
    assert page["payload"]["custom_details"]["value"] == float(2**65 - 2)
