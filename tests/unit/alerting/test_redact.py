"""Redaction: configured fields and secret-looking fields never leave in a page."""

import copy
from typing import Any

import orjson
import pytest

from alerting.message import pager_message
from alerting.redact import REDACTED, Redaction
from tests.unit.alerting.pager_samples import fanout, message
from tests.unit.helpers import base_rule, ev, run


def test_configured_field_is_redacted_everywhere_but_the_dedup_key():
    m = message(ip="203.0.113.9")
    out = Redaction.of(["ip"]).apply(m)
    d = out["payload"]["custom_details"]
    assert d["group"] == {"org_id": "o_1", "api_key_id": "k_123", "ip": REDACTED}
    assert out["payload"]["group"] == f"org_id=o_1,api_key_id=k_123,ip={REDACTED}"
    assert "203.0.113.9" not in out["payload"]["summary"] and REDACTED in out["payload"]["summary"]
    assert d["evidence"]["top"]["ip"] == [[REDACTED, 900], [REDACTED, 12]]
    assert out["dedup_key"] == m["dedup_key"]
    assert b"203.0.113.9" not in orjson.dumps(out) and b"198.51.100.7" not in orjson.dumps(out)
    assert m["payload"]["custom_details"]["group"]["ip"] == "203.0.113.9"  # input untouched


def test_patterns_match_dotted_fields():
    r = Redaction.of(["attrs.*"])
    assert r.hides("attrs.user_agent") and not r.hides("ip") and not r.hides("attrs")


def test_secret_and_prompt_fields_are_always_redacted():
    r = Redaction.of([])
    for field in ("prompt", "attrs.prompt", "api_key", "attrs.api_key", "attrs.client_secret",
                  "attrs.password", "attrs.authorization"):  # fmt: skip
        assert r.hides(field), field
    for field in ("org_id", "api_key_id", "ip", "prompt_tokens", "account_id"):
        assert not r.hides(field), field


def test_nothing_to_hide_returns_the_message_itself():
    m = message()
    assert Redaction.of(["country"]).apply(m) is m


# -- every detector's page shape -------------------------------------------------------------
# Each row: a rule whose pages carry the hidden field's values (in the group, evidence.top,
# the new/distinct/known values, the summary), the events that make it page, the fields to
# redact, and every spelling of those values that must not survive redaction.
MIN = 60_000
IP, IP2, IP3 = "203.0.113.77", "198.51.100.23", "192.0.2.140"
UA = "sekrit-agent/9.1"


def _every(start: int, stop: int, step: int, **fields: Any) -> list[dict[str, Any]]:
    return [ev(t, **fields) for t in range(start, stop, step)]


SHAPES = [
    pytest.param(
        {"type": "match"},
        {"group_by": ["org_id", "ip"], "annotations": {"summary": "{ip} in {org_id}"}},
        [ev(0, ip=IP)],
        ["ip"],
        [IP],
        id="match-group",
    ),
    pytest.param(
        {"type": "threshold", "window": "60s", "threshold": 3},
        {
            "group_by": ["ip"],
            "evidence": {"top": ["attrs.ua"]},
            "annotations": {"summary": "{group} sent {value}"},
        },
        [*_every(0, 5_000, 1_000, ip=IP, attrs={"ua": UA}), ev(20 * MIN, ip=IP2)],
        ["ip", "attrs.*"],
        [IP, UA],
        id="threshold-group-top-resolve",
    ),
    pytest.param(
        {"type": "distinct", "field": "ip", "window": "60s", "threshold": 2},
        {"annotations": {"summary": "{org_id}: {value} distinct {field}"}},
        [ev(0, ip=IP), ev(1_000, ip=IP2), ev(2_000, ip=IP3), ev(20 * MIN, "other")],
        ["ip"],
        [IP, IP2, IP3],
        id="distinct-values",
    ),
    pytest.param(
        {
            "type": "ratio",
            "numerator": {"flagged": True},
            "window": "60s",
            "threshold": 0.5,
            "min_count": 2,
        },
        {"group_by": ["ip"]},
        [*_every(0, 4_000, 1_000, ip=IP, flagged=True), ev(20 * MIN, ip=IP2)],
        ["ip"],
        [IP],
        id="ratio-group",
    ),
    pytest.param(
        {"type": "spike", "window": "1m", "factor": 3, "baseline_windows": 3, "min_count": 5},
        {"group_by": ["ip"], "evidence": {"top": ["ip"]}},
        [*_every(0, 300_000, 10_000, ip=IP), *_every(300_000, 330_000, 500, ip=IP)],
        ["ip"],
        [IP],
        id="spike-group-top",
    ),
    pytest.param(
        {"type": "new_value", "field": "country", "lookback": "1d", "warmup": "1m"},
        {"annotations": {"summary": "new country {value} for {org_id}"}},
        [ev(0, country="US"), ev(30_000, country="DE"), ev(2 * MIN, country="RU")],
        ["country"],
        ["US", "DE", "RU"],
        id="new_value-short-values",
    ),
    pytest.param(
        {"type": "new_value", "field": "attrs.pin", "lookback": "1d", "warmup": "1m"},
        {"annotations": {"summary": "new pin {value}"}},
        [
            ev(0, attrs={"pin": 48213}),
            ev(1_000, attrs={"pin": 73109}),
            ev(2 * MIN, attrs={"pin": 99123}),
        ],
        ["attrs.pin"],
        ["48213", "73109", "99123", "99,123"],
        id="new_value-numbers",
    ),
    pytest.param(
        {"type": "new_value", "field": "attrs.api_key", "lookback": "1d", "warmup": "1m"},
        {"annotations": {"summary": "new key {value} in {org_id}"}},
        [
            ev(0, attrs={"api_key": "sk-live-first"}),
            ev(2 * MIN, attrs={"api_key": "sk-live-second"}),
        ],
        [],  # always redacted
        ["sk-live-first", "sk-live-second"],
        id="new_value-always-redacted",
    ),
    pytest.param(
        {"type": "absence", "window": "1m"},
        {"group_by": ["ip"], "annotations": {"summary": "{ip} went quiet"}},
        [ev(0, ip=IP), *_every(0, 5 * MIN, 30_000, ip=IP2)],
        ["ip"],
        [IP],
        id="absence-group",
    ),
    pytest.param(
        {
            "type": "sequence",
            "steps": [{"where": {"event_type": "signup"}}, {"where": {"event_type": "request"}}],
            "within": "10m",
        },
        {"group_by": ["ip"], "annotations": {"summary": "signup then use from {ip}"}},
        [ev(0, ip=IP, event_type="signup"), ev(1_000, ip=IP)],
        ["ip"],
        [IP],
        id="sequence-group",
    ),
]


def _visible(message: dict[str, Any]) -> str:
    """The message as a reader sees it, minus the hashes (which may hold any digits)."""
    shown = copy.deepcopy(message)
    del shown["dedup_key"]
    del shown["payload"]["custom_details"]["rule"]["version"]
    return orjson.dumps(shown).decode()


@pytest.mark.parametrize(("detect", "top", "events", "fields", "secrets"), SHAPES)
def test_no_value_of_a_hidden_field_survives_in_any_page_shape(
    detect: dict[str, Any],
    top: dict[str, Any],
    events: list[dict[str, Any]],
    fields: list[str],
    secrets: list[str],
) -> None:
    r = base_rule(detect, **top)
    alerts = run(r, events)
    assert alerts, "the case must page"
    redaction = Redaction.of(fields)
    clear = [_visible(pager_message(r, a)) for a in alerts]
    assert any(s in text for text in clear for s in secrets), "the case must carry the values"
    for alert in alerts:
        message = pager_message(r, alert)
        out = redaction.apply(message)
        text = _visible(out)
        leaked = [s for s in secrets if s in text]
        assert not leaked, (alert.action, text)
        assert REDACTED in text
        assert out["dedup_key"] == message["dedup_key"]
        assert redaction.apply(out) == out  # the bridge may redact a redacted page again


def test_new_value_keeps_how_many_values_were_known():
    r = base_rule({"type": "new_value", "field": "country", "lookback": "1d", "warmup": "1m"})
    (alert,) = run(r, [ev(0, country="US"), ev(1, country="DE"), ev(2 * MIN, country="RU")])
    evidence = Redaction.of(["country"]).apply(pager_message(r, alert))["payload"][
        "custom_details"
    ]["evidence"]
    assert evidence["known"] == [REDACTED, REDACTED] and evidence["field"] == "country"


def test_hidden_event_ids_are_redacted_in_the_samples():
    m = message()
    out = Redaction.of(["event_id"]).apply(m)
    assert out["payload"]["custom_details"]["evidence"]["sample_event_ids"] == [REDACTED] * 2


@pytest.mark.parametrize(
    ("hidden", "summary", "expected"),
    [
        ("RU", "new country RU for o1", "new country [redacted] for o1"),
        ("RU", "RUN from RU.", "RUN from [redacted]."),
        ("1", "value 1,312 from 1", "value 1,312 from [redacted]"),
        ("k", "API key k made 1.5k", "API key [redacted] made 1.5k"),
        ("o1", "org_id=o1,ip=x", "org_id=[redacted],ip=x"),
    ],
)
def test_short_values_are_replaced_only_as_whole_words(hidden, summary, expected):
    m = fanout(ip=hidden)
    m["payload"]["summary"] = summary
    assert Redaction.of(["ip"]).apply(m)["payload"]["summary"] == expected


def test_a_redacted_summary_stays_within_pagerduty_s_limit():
    from alerting.message import MAX_SUMMARY

    message = {
        "payload": {
            "summary": " ".join(["ab123"] * 170),  # 1,019 characters: within the limit
            "custom_details": {"group": {"ip": "ab123"}, "evidence": {}},
        }
    }
    out = Redaction.of(["ip"]).apply(message)
    assert len(out["payload"]["summary"]) <= MAX_SUMMARY
    assert "ab123" not in out["payload"]["summary"]
