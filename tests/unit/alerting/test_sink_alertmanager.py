"""The Alertmanager sink: API v2 alerts, leases, re-sends, resolve with endsAt."""

import orjson

from alerting.redact import Redaction
from alerting.sinks.alertmanager import AlertmanagerSink, iso, parse_iso
from tests.unit.alerting.pager_samples import T0, message

NOW = T0 / 1000 + 5


def sink():
    return AlertmanagerSink("am", "http://am:9093/", resend_interval_s=60, resolved_retention_s=900)


def test_request_posts_one_alert_with_labels_and_annotations():
    s = sink()
    req = s.request(message(), b"", NOW)
    assert req.url == "http://am:9093/api/v2/alerts"
    [alert] = orjson.loads(req.body)
    labels = alert["labels"]
    assert labels["alertname"] == labels["rule"] == "api_key_burst"
    assert labels["severity"] == "critical" and labels["source"] == "signalfire"
    assert labels["team"] == "tns" and labels["abuse"] == "stolen_key"
    assert labels["org_id"] == "o_1" and labels["api_key_id"] == "k_123"
    assert labels["dedup_key"] == message().dedup_key
    notes = alert["annotations"]
    assert notes["runbook_url"] == "https://runbooks.example/api-key-burst"
    assert notes["summary"].startswith("API key k_123") and notes["value"] == "1312"
    assert notes["sample_event_ids"] == "e1,e2"
    assert alert["startsAt"] == iso(T0 / 1000)
    assert parse_iso(alert["endsAt"], 0) == NOW + 4 * 60  # a lease of four re-send intervals


def test_redacted_group_values_are_not_labels():
    m = Redaction.of(["ip"]).page(message())
    [alert] = orjson.loads(sink().request(m, b"", NOW).body)
    assert "ip" not in alert["labels"] and "203.0.113.9" not in orjson.dumps(alert).decode()


def test_resolve_keeps_the_start_and_ends_at_the_resolve_time():
    s = sink()
    s.delivered(message(), NOW)
    resolved_at = T0 + 120_000
    [alert] = orjson.loads(s.request(message("resolve", at=resolved_at), b"", NOW + 200).body)
    assert alert["startsAt"] == iso(T0 / 1000)
    assert alert["endsAt"] == iso(resolved_at / 1000)


def test_resolve_in_the_future_ends_now():
    s = sink()
    [alert] = orjson.loads(s.request(message("resolve", at=T0 + 10**9), b"", NOW).body)
    assert parse_iso(alert["endsAt"], 0) == NOW


def test_firing_alerts_are_resent_every_interval_with_a_fresh_lease():
    s = sink()
    s.delivered(message(key="k_1"), NOW)
    s.delivered(message(key="k_2"), NOW)
    [first] = s.resends(NOW + 60)
    alerts = orjson.loads(first.body)
    assert {a["labels"]["api_key_id"] for a in alerts} == {"k_1", "k_2"}
    assert all(parse_iso(a["endsAt"], 0) == NOW + 60 + 240 for a in alerts)
    assert s.resends(NOW + 90) == []  # not yet due again
    assert len(s.resends(NOW + 121)) == 1


def test_resolved_alerts_are_resent_for_the_retention_then_dropped():
    s = sink()
    s.delivered(message(), NOW)
    s.delivered(message("resolve", at=T0 + 60_000), NOW + 60)
    [req] = s.resends(NOW + 120)
    [alert] = orjson.loads(req.body)
    assert alert["endsAt"] == iso((T0 + 60_000) / 1000)
    assert s.tracked() == 1
    assert s.resends(NOW + 60 + 901) == [] and s.tracked() == 0


def test_a_repeat_trigger_keeps_the_original_start():
    s = sink()
    s.delivered(message(), NOW)
    [alert] = orjson.loads(s.request(message(at=T0 + 300_000), b"", NOW + 300).body)
    assert alert["startsAt"] == iso(T0 / 1000)


def test_a_trigger_after_a_resolve_starts_anew():
    s = sink()
    s.delivered(message(), NOW)
    s.delivered(message("resolve", at=T0 + 60_000), NOW + 60)
    [alert] = orjson.loads(s.request(message(at=T0 + 600_000), b"", NOW + 600).body)
    assert alert["startsAt"] == iso((T0 + 600_000) / 1000)


def test_restore_rebuilds_the_firing_set_without_old_resolves():
    s = sink()
    s.restore(message(key="k_1"))
    s.restore(message(key="k_2"))
    s.restore(message("resolve", key="k_2", at=T0 + 60_000))
    s.restore(message("resolve", key="k_3", at=T0 + 60_000))
    assert s.tracked() == 1
    [req] = s.resends(NOW)  # due at once after a restart
    [alert] = orjson.loads(req.body)
    assert alert["labels"]["api_key_id"] == "k_1" and alert["startsAt"] == iso(T0 / 1000)
    assert parse_iso(alert["endsAt"], 0) == NOW + 240


def test_an_incident_is_a_label_routes_group_by():
    from alerting.incidents import Correlator
    from alerting.incidents.attach import with_incident
    from alerting.sinks.alertmanager import labels_of

    page = message()
    assert "incident" not in labels_of(page)
    decided = with_incident(page, Correlator().decide(page))
    labels = labels_of(decided)
    incident = decided.payload.custom_details.incident
    assert incident is not None and labels["incident"] == incident.id
    assert labels["incident"].startswith("inc_") and labels["incident_root"] == "org_id"
