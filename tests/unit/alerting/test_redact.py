"""Redaction: configured fields and secret-looking fields never leave in a page.

The worker and the backtest redact the alert before they render it (`pager_message(rule,
alert, redaction)`); the bridge redacts the pages it reads again (`Redaction.page`), for
fields only its own configuration hides. Both are held to the same: nothing hidden survives.
"""

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.message import pager_message
from alerting.pager import ACTIONS, PagerMessage, encode, to_json
from alerting.redact import REDACTED, Redaction
from signalfire.engine.alert import Alert, Evidence
from tests.unit.alerting.pager_samples import BURST, burst, fanout, message
from tests.unit.helpers import base_rule, ev, run

SHOWS_ALL = Redaction(())  # renders a page as a worker that hid nothing would have


def test_configured_field_is_redacted_everywhere_but_the_dedup_key():
    m = message(ip="203.0.113.9")
    out = to_json(Redaction.of(["ip"]).page(m))
    d = out["payload"]["custom_details"]
    assert d["group"] == {"org_id": "o_1", "api_key_id": "k_123", "ip": REDACTED}
    assert out["payload"]["group"] == f"org_id=o_1,api_key_id=k_123,ip={REDACTED}"
    assert "203.0.113.9" not in out["payload"]["summary"] and REDACTED in out["payload"]["summary"]
    assert d["evidence"]["top"]["ip"] == [[REDACTED, 900], [REDACTED, 12]]
    assert out["dedup_key"] == m.dedup_key
    assert b"203.0.113.9" not in orjson.dumps(out) and b"198.51.100.7" not in orjson.dumps(out)
    assert m.payload.custom_details.group["ip"] == "203.0.113.9"  # input untouched


def test_the_worker_renders_the_page_from_redacted_values():
    alert = burst(ip="203.0.113.9")
    redaction = Redaction.of(["ip"])
    worker = pager_message(BURST, alert, redaction)
    bridge = redaction.page(pager_message(BURST, alert))
    # The same page either way, but the worker's summary was written as it reads, not edited.
    assert worker == bridge
    assert worker.payload.summary == f"API key k_123 from {REDACTED} made 1,312 requests in 1m"
    assert redaction.alert(alert).group == (("org_id", "o_1"), ("api_key_id", "k_123"),
                                            ("ip", REDACTED))  # fmt: skip
    assert redaction.page(worker) is worker  # nothing left for the bridge to do


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
    assert Redaction.of(["country"]).page(m) is m
    alert = burst(ip="203.0.113.9")
    assert Redaction.of(["country"]).alert(alert) is alert


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


def _visible(message: PagerMessage) -> str:
    """The encoded message as a reader sees it, minus the hashes (which may hold any digits)."""
    shown = orjson.loads(encode(message))
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
    clear = [_visible(pager_message(r, a, SHOWS_ALL)) for a in alerts]
    assert any(s in text for text in clear for s in secrets), "the case must carry the values"
    for alert in alerts:
        message = pager_message(r, alert, SHOWS_ALL)
        out = pager_message(r, alert, redaction)  # redacted before it is rendered
        text = _visible(out)
        leaked = [s for s in secrets if s in text]
        assert not leaked, (alert.action, text)
        assert REDACTED in text
        assert out.dedup_key == message.dedup_key
        assert redaction.page(out) == out  # the bridge may redact a redacted page again


@pytest.mark.parametrize(("detect", "top", "events", "fields", "secrets"), SHAPES)
def test_the_bridge_hides_what_a_worker_showed_in_any_page_shape(
    detect: dict[str, Any],
    top: dict[str, Any],
    events: list[dict[str, Any]],
    fields: list[str],
    secrets: list[str],
) -> None:
    # A worker that hides fewer fields than the bridge: the bridge's configuration still holds.
    r = base_rule(detect, **top)
    redaction = Redaction.of(fields)
    for alert in run(r, events):
        message = pager_message(r, alert, SHOWS_ALL)
        out = redaction.page(message)
        text = _visible(out)
        assert not [s for s in secrets if s in text], (alert.action, text)
        assert REDACTED in text
        assert out.dedup_key == message.dedup_key
        assert redaction.page(out) == out


def test_new_value_keeps_how_many_values_were_known():
    r = base_rule({"type": "new_value", "field": "country", "lookback": "1d", "warmup": "1m"})
    (alert,) = run(r, [ev(0, country="US"), ev(1, country="DE"), ev(2 * MIN, country="RU")])
    page = pager_message(r, alert, Redaction.of(["country"]))
    evidence = to_json(page)["payload"]["custom_details"]["evidence"]
    assert evidence["known"] == [REDACTED, REDACTED] and evidence["field"] == "country"


def test_hidden_event_ids_are_redacted_in_the_samples():
    m = message()
    out = to_json(Redaction.of(["event_id"]).page(m))
    assert out["payload"]["custom_details"]["evidence"]["sample_event_ids"] == [REDACTED] * 2
    worker = pager_message(BURST, burst(ip="203.0.113.9"), Redaction.of(["event_id"]))
    assert to_json(worker) == out


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
    # The bridge's replacement in a summary a worker wrote with the value visible.
    m = fanout(ip=hidden)
    m = dataclasses.replace(m, payload=dataclasses.replace(m.payload, summary=summary))
    assert Redaction.of(["ip"]).page(m).payload.summary == expected


def test_a_redacted_summary_stays_within_pagerduty_s_limit():
    from alerting.pager import MAX_SUMMARY

    m = fanout(ip="ab123")
    summary = " ".join(["ab123"] * 170)  # 1,019 characters: within the limit
    message = dataclasses.replace(m, payload=dataclasses.replace(m.payload, summary=summary))
    out = to_json(Redaction.of(["ip"]).page(message))
    assert len(out["payload"]["summary"]) <= MAX_SUMMARY
    assert "ab123" not in out["payload"]["summary"]


# -- any values --------------------------------------------------------------------------------
NEW_COUNTRY = base_rule(
    {"type": "new_value", "field": "country", "lookback": "1d", "warmup": "1m"},
    evidence={"top": ["ip"]},
    annotations={"summary": "new country {value} for {org_id}"},
)
HIDDEN = Redaction.of(["ip", "country", "event_id"])
# Unmistakable in any page text; up to 3,000 characters, so that some are cut to the cap.
secret = st.builds(lambda n, s: f"SECRET{n}-{s}", st.integers(0, 99), st.text(max_size=3000))


@st.composite
def hidden_alerts(draw: st.DrawFn) -> tuple[Any, Alert]:
    """An alert whose every value of a hidden field (ip, country, event_id) is a secret."""
    action = draw(st.sampled_from(ACTIONS))
    ids = tuple(draw(st.lists(secret, max_size=5)))
    top = {"ip": [(s, n + 1) for n, s in enumerate(draw(st.lists(secret, max_size=5)))]}
    if draw(st.booleans()):
        group = (("org_id", "o_1"), ("api_key_id", "k_1"), ("ip", draw(secret)))
        evidence = Evidence(value=1312, sample_event_ids=ids, top=top)
        return BURST, Alert(BURST.id, action, group, 0, evidence)
    known = draw(st.lists(secret, max_size=10))
    extra = {"field": "country", "known": known}
    evidence = Evidence(value=draw(secret), sample_event_ids=ids, top=top, extra=extra)
    return NEW_COUNTRY, Alert(NEW_COUNTRY.id, action, (("org_id", "o_1"),), 0, evidence)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hidden_alerts())
def test_no_hidden_value_survives_in_the_encoded_page_whatever_it_was(case):
    r, alert = case
    worker = pager_message(r, alert, HIDDEN)
    assert "SECRET" not in _visible(worker)
    assert "SECRET" not in _visible(HIDDEN.page(pager_message(r, alert, SHOWS_ALL)))
    assert worker.dedup_key == pager_message(r, alert, SHOWS_ALL).dedup_key


def test_the_worker_s_summary_holds_a_hidden_value_as_its_template_places_it():
    # Written from [redacted], the summary needs no search for the value's spellings: a short
    # value glued to other text is hidden, and text that only looks like it is left alone.
    r = base_rule(
        {"type": "match"},
        group_by=["org_id", "account_id"],
        annotations={"summary": "user_{account_id} in {org_id}: {value} event"},
    )
    alert = Alert(r.id, "trigger", (("org_id", "1"), ("account_id", "ab")), 0, Evidence(value=1))
    page = pager_message(r, alert, Redaction.of(["org_id", "account_id"]))
    assert page.payload.summary == "user_[redacted] in [redacted]: 1 event"
