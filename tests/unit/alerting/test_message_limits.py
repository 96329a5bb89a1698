"""Pages stay within PagerDuty's limits whatever the events hold: long text is cut and marked,
the bulkiest evidence is left out when still too large, and the dedup key stays that of the
whole values."""

import dataclasses
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.message import (
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    cap_text,
    dedup_key,
    pager_message,
)
from alerting.pager import PagerMessage, encode, to_json
from alerting.redact import REDACTED, Redaction
from alerting.sinks.pagerduty import EVENTS_URL, MAX_BODY, PagerDutySink
from signalfire.engine.alert import Action, Alert, Evidence
from signalfire.rules import parse_rule_text
from signalfire.rules.build import MAX_RUNBOOK_CHARS
from signalfire.rules.model import SEVERITIES, Rule
from tests.unit.helpers import ev, rule, run

T0 = 1_795_420_800_000
KEY = "R0UT1NGKEY0000000000000000000000"
BURST = rule("""\
id: api_key_burst
title: API key request burst
description: too many requests
severity: critical
owner: tns-oncall
labels: {team: tns}
annotations:
  runbook: https://runbooks.example/api-key-burst
  summary: "API key {api_key_id} made {value} requests in {window} (threshold {threshold})"
group_by: [org_id, api_key_id, attrs.api_key]
detect: {type: threshold, window: 60s, threshold: 1000}
evidence: {top: [ip, model, attrs.user_agent]}
""")
NEW_VALUE = rule("""\
id: new_country
title: API key used from a new country
severity: warning
annotations:
  runbook: https://runbooks.example/new_country
group_by: [org_id]
detect: {type: new_value, field: country, warmup: 0}
""")
MATCH = rule("""\
id: flagged
title: flagged request
severity: error
group_by: [org_id]
detect: {type: match}
""")


def problems_of_runbook(runbook: str) -> list[Any]:
    text = "id: r\ntitle: R\nseverity: info\ndetect: {type: match}\n"
    _, problems = parse_rule_text(text + f"annotations: {{runbook: '{runbook}'}}\n", "r.yaml")
    return problems


def size(message: PagerMessage) -> int:
    return len(encode(message))


def assert_deliverable(r: Rule, alert: Alert, page: PagerMessage) -> None:
    """Within the budget, every field PagerDuty requires present and valid, the full key."""
    assert size(page) <= MAX_MESSAGE_BYTES
    message = to_json(page)
    assert message["event_action"] == alert.action
    assert message["dedup_key"] == dedup_key(r.id, alert.group)
    assert 0 < len(message["dedup_key"]) <= 255
    p = message["payload"]
    assert isinstance(p["summary"], str) and 0 < len(p["summary"]) <= 1024
    assert p["source"] == "signalfire" and p["severity"] in SEVERITIES
    datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00"))
    assert p["component"] == r.id and p["class"] == r.detect.type
    d = p["custom_details"]
    assert d["rule"]["id"] == r.id and d["rule"]["version"] == r.version
    assert list(d["group"]) == [k for k, _ in alert.group]
    assert "sample_event_ids" in d["evidence"]
    # The bridge adds the routing key and may redact: PagerDuty must still take it.
    redacted = Redaction.of(["ip", "attrs.*"]).page(page)
    assert len(PagerDutySink("pd", EVENTS_URL, KEY).request(redacted, b"", 0).body) <= MAX_BODY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("k_123", "k_123"),
        ("x" * MAX_TEXT_CHARS, "x" * MAX_TEXT_CHARS),
        ("x" * 1025, "x" * 1000 + "…[truncated 25 chars]"),
        ("x" * 300_000, "x" * 998 + "…[truncated 299,002 chars]"),
        ("é" * 2000, "é" * 1000 + "…[truncated 1,000 chars]"),
    ],
)
def test_long_text_is_cut_to_the_cap_and_says_how_much_went(text, expected):
    assert cap_text(text) == expected
    assert len(cap_text(text)) <= MAX_TEXT_CHARS


def test_group_value_of_300k_chars():
    group = (("org_id", "o" * 300_000),)
    alert = Alert("flagged", "trigger", group, T0, Evidence(value=1, sample_event_ids=("e1",)))
    page = pager_message(MATCH, alert)
    assert_deliverable(MATCH, alert, page)
    m = to_json(page)
    capped = cap_text("o" * 300_000)
    assert m["payload"]["custom_details"]["group"] == {"org_id": capped}
    assert m["payload"]["group"] == f"org_id={capped}"
    assert m["payload"]["custom_details"]["truncated"] is True
    assert size(page) < 10_000


def test_new_value_with_long_values_through_the_engine():
    events = [ev(i * 660_000, country=f"{i}" + "c" * 80_000) for i in range(12)]
    alerts = run(NEW_VALUE, events)
    assert len(alerts) == 12  # warmup 0: the first value is new too
    page = pager_message(NEW_VALUE, alerts[-1])
    assert_deliverable(NEW_VALUE, alerts[-1], page)
    m = to_json(page)
    d = m["payload"]["custom_details"]
    assert d["value"] == cap_text("11" + "c" * 80_000)
    assert d["evidence"]["field"] == "country"
    assert d["evidence"]["known"] == [cap_text(f"{i}" + "c" * 80_000) for i in range(10)]
    assert d["truncated"] is True and "omitted" not in d


def test_short_pages_are_left_whole_and_unmarked():
    alert = Alert(
        "api_key_burst",
        "trigger",
        (("org_id", "o_1"), ("api_key_id", "k_123"), ("attrs.api_key", "x")),
        T0,
        Evidence(value=1312, window_start=T0 - 60_000, window_end=T0, sample_event_ids=("e1",)),
    )
    d = to_json(pager_message(BURST, alert))["payload"]["custom_details"]
    assert "truncated" not in d and "omitted" not in d
    assert d["group"]["api_key_id"] == "k_123" and d["evidence"]["sample_event_ids"] == ["e1"]


def huge(n: int) -> str:
    return "\x01" * n  # six bytes each once JSON-escaped: the costliest text there is


def test_when_cut_text_is_still_too_much_the_bulkiest_evidence_goes_first():
    top = {
        "ip": [(huge(5000) + str(i), 1) for i in range(5)],
        "model": [(huge(5000) + str(i), 1) for i in range(5)],
        "attrs.user_agent": [(huge(5000) + str(i), 1) for i in range(5)],
    }
    ids = tuple(huge(5000) + str(i) for i in range(100))
    group = (("org_id", huge(5000)), ("api_key_id", "k_1"), ("attrs.api_key", "x"))
    alert = Alert(
        "api_key_burst", "trigger", group, T0, Evidence(value=7, sample_event_ids=ids, top=top)
    )
    page = pager_message(BURST, alert)
    assert_deliverable(BURST, alert, page)
    m = to_json(page)
    d = m["payload"]["custom_details"]
    assert d["truncated"] is True
    assert d["omitted"] == ["evidence.sample_event_ids"]  # 100 ids outweigh 15 top values
    assert d["evidence"]["sample_event_ids"] == [] and len(d["evidence"]["top"]) == 3
    assert d["group"]["org_id"] == cap_text(huge(5000))


def test_rule_text_is_cut_too_but_the_runbook_link_is_whole():
    r = dataclasses.replace(
        BURST,
        title="T" * 5000,
        description="D" * 400_000,
        labels={"team": "L" * 400_000},
        annotations={**BURST.annotations, "note": "N" * 400_000},
    )
    alert = Alert(
        "api_key_burst",
        "resolve",
        (("org_id", "o"), ("api_key_id", "k"), ("attrs.api_key", "x")),
        T0,
        Evidence(value=3),
    )
    page = pager_message(r, alert)
    assert_deliverable(r, alert, page)
    m = to_json(page)
    d = m["payload"]["custom_details"]
    assert d["rule"]["title"] == cap_text("T" * 5000)
    assert d["labels"]["team"] == cap_text("L" * 400_000)
    assert m["links"] == [{"href": "https://runbooks.example/api-key-burst", "text": "Runbook"}]


def test_a_rule_whose_own_text_is_too_much_still_pages_with_short_texts():
    # Labels are never left out (routes match on them), so only shorter texts make this fit.
    labels = {f"label_{i}": "L" * 1000 for i in range(1000)}
    runbook = "https://runbooks.example/" + "r" * (MAX_RUNBOOK_CHARS - 25)  # the longest allowed
    r = dataclasses.replace(
        BURST, labels=labels, annotations={**BURST.annotations, "runbook": runbook}
    )
    group = (("org_id", "o" * 5000), ("api_key_id", "k"), ("attrs.api_key", "x"))
    alert = Alert("api_key_burst", "trigger", group, T0, Evidence(value=1, sample_event_ids=("e",)))
    page = pager_message(r, alert)
    assert_deliverable(r, alert, page)
    m = to_json(page)
    d = m["payload"]["custom_details"]
    assert d["labels"]["label_999"] == cap_text("L" * 1000, 64)
    assert d["group"]["org_id"] == cap_text("o" * 5000, 64)
    assert d["truncated"] is True
    assert d["omitted"] == [
        "evidence.sample_event_ids",
        "annotations.summary",
        "annotations.description",
    ]
    assert m["links"] == [{"href": runbook, "text": "Runbook"}]
    assert not problems_of_runbook(runbook)


def test_same_start_different_ends_are_different_groups():
    a = (("org_id", "o" * 5000 + "a"),)
    b = (("org_id", "o" * 5000 + "b"),)
    ma = to_json(pager_message(MATCH, Alert("flagged", "trigger", a, T0, Evidence(value=1))))
    mb = to_json(pager_message(MATCH, Alert("flagged", "trigger", b, T0, Evidence(value=1))))
    assert ma["payload"]["group"] == mb["payload"]["group"]  # the cut text is the same...
    assert ma["dedup_key"] != mb["dedup_key"]  # ...the key is of the whole values


LEAK = rule(
    {
        "id": "leak",
        "title": "leak",
        "severity": "critical",
        "annotations": {"summary": "key {attrs.api_key} used {value} times"},
        "group_by": ["attrs.api_key"],
        "detect": {"type": "match"},
    }
)
SHOWS_ALL = Redaction(())  # a page as a worker that hid nothing would have made it


def test_summary_never_shows_part_of_a_value_the_bridge_redacts():
    # The summary is cut at 1024 characters; a value it holds must be all there or not at all,
    # or redaction (which replaces whole values) would leave the start of a secret visible.
    for api_key, shown in [
        ("sk-" + "A" * 3000, "key … used 1 times"),  # cut: too long to show whole
        ("sk-" + "A" * 1019, "key … used 1 times"),  # whole, but the summary has no room
        ("sk-" + "A" * 1010, f"key {REDACTED} used …"),
        ("sk-" + "A" * 900, f"key {REDACTED} used 1 times"),
    ]:
        alert = Alert("leak", "trigger", (("attrs.api_key", api_key),), T0, Evidence(value=1))
        out = to_json(Redaction.of([]).page(pager_message(LEAK, alert, SHOWS_ALL)))
        assert b"sk-AAA" not in orjson.dumps(out)
        assert out["payload"]["summary"] == shown
        assert out["payload"]["custom_details"]["group"]["attrs.api_key"] == REDACTED


def test_the_worker_s_page_does_not_depend_on_how_long_a_hidden_value_was():
    # Redacted before it is rendered: no cut, no `…` and no `truncated` tells a long secret
    # from a short one, and the summary has room for what follows it.
    pages = set()
    for api_key in ("sk-" + "A" * 3000, "sk-" + "A" * 1019, "sk-" + "A" * 900, "sk-1"):
        alert = Alert("leak", "trigger", (("attrs.api_key", api_key),), T0, Evidence(value=1))
        m = to_json(pager_message(LEAK, alert))
        assert m["payload"]["summary"] == f"key {REDACTED} used 1 times"
        assert "truncated" not in m["payload"]["custom_details"]
        del m["dedup_key"]  # of the whole value: the one part that differs
        pages.add(orjson.dumps(m))
    assert len(pages) == 1


# -- any alert --------------------------------------------------------------------------------

# Control characters cost six bytes each in JSON, emoji four: the dearest text to carry.
piece = st.text(min_size=1, max_size=4) | st.sampled_from(["\x01", '"', "é", "😀", "a"])
long_text = st.builds(lambda p, n: p * n, piece, st.integers(0, 60_000))
text = st.text(max_size=12) | long_text
scalar = (
    text
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
)


def bulky(items: st.SearchStrategy[Any], most: int) -> st.SearchStrategy[list[Any]]:
    """Lists of up to `most` items, often repeating a few: long lists of long texts are what
    make a page too large, and drawing each anew would rarely get there."""
    few = st.lists(items, min_size=1, max_size=3)
    repeated = st.builds(lambda xs, n: (xs * n)[:most], few, st.integers(1, most))
    return st.lists(items, max_size=most) | repeated


@st.composite
def alerts(draw: st.DrawFn) -> tuple[Rule, Alert]:
    r = draw(st.sampled_from([BURST, NEW_VALUE, MATCH]))
    if draw(st.booleans()):
        r = dataclasses.replace(
            r,
            title=draw(text) or "t",
            description=draw(text),
            owner=draw(text),
            labels=draw(st.dictionaries(st.text(max_size=8), text, max_size=3)),
            annotations={
                **draw(st.dictionaries(st.text(max_size=8), text, max_size=3)),
                "runbook": "https://runbooks.example/x",
            },
        )
    group = tuple((".".join(path), draw(scalar)) for path in r.group_by)
    extra: dict[str, Any] = {}
    if r.detect.type == "new_value":
        extra = {"field": "country", "known": draw(bulky(scalar, 10))}
    top = draw(
        st.dictionaries(
            st.sampled_from(["ip", "model", "attrs.user_agent"]),
            bulky(st.tuples(scalar, st.integers(1, 10**6)), 10),
            max_size=3,
        )
    )
    evidence = Evidence(
        value=draw(scalar),
        window_start=draw(st.none() | st.integers(-(10**16), 10**16)),
        window_end=draw(st.none() | st.integers(0, 10**14)),
        sample_event_ids=tuple(draw(bulky(text, 200))),
        top=top,
        extra=extra,
    )
    action: Action = "trigger" if draw(st.booleans()) else "resolve"
    return r, Alert(r.id, action, group, draw(st.integers(0, 10**14 - 1)), evidence)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(alerts())
def test_any_alert_makes_a_deliverable_page(case):
    r, alert = case
    assert_deliverable(r, alert, pager_message(r, alert))
