"""Redaction: configured fields and secret-looking fields never leave in a page."""

import orjson

from alerting.redact import REDACTED, Redaction
from tests.unit.alerting.pager_samples import message


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


def test_short_values_are_not_replaced_inside_the_summary():
    m = message(key="k1", ip="1.2.3.4")
    m["payload"]["custom_details"]["group"]["api_key_id"] = "k"
    out = Redaction.of(["api_key_id"]).apply(m)
    assert out["payload"]["custom_details"]["group"]["api_key_id"] == REDACTED
    assert "1,312" in out["payload"]["summary"]  # numbers intact
