"""Scoring pages against labels: what counts as caught, detection latency, the per-rule view,
and the time order of written pages."""

from typing import Any

from signalfire.scorecard import in_time_order, page_ms, score
from signalfire.timestamps import iso_ms

T0 = 1_795_392_000_000  # 2026-11-23T00:00:00Z
MINUTE = 60_000


def page(rule: str, at: int, group: dict[str, str], action: str = "trigger") -> dict[str, Any]:
    return {
        "event_action": action,
        "dedup_key": f"{rule}/{','.join(group.values())}",
        "payload": {
            "timestamp": iso_ms(at),
            "component": rule,
            "summary": f"{rule} for {group}",
            "custom_details": {"group": group},
        },
    }


def label(name: str, start: int, end: int, group: dict[str, str], *rules: str) -> dict[str, Any]:
    return {"scenario": name, "start_ts": start, "end_ts": end, "group": group, "rules": rules}


def test_page_ms_reads_what_the_pages_carry() -> None:
    assert page_ms("2026-11-23T00:00:00.000Z") == T0
    assert page_ms(iso_ms(T0 + 86_399_999)) == T0 + 86_399_999


def test_latency_is_abuse_start_to_the_earliest_explaining_trigger() -> None:
    key = {"org_id": "o1", "api_key_id": "k1"}
    labels = [label("drain", T0, T0 + 10 * MINUTE, key, "token_drain", "new_country_for_key")]
    messages = [
        page("token_drain", T0 + 7 * MINUTE, key),  # emitted first, but not the first page
        page("token_drain", T0 + 3 * MINUTE + 250, key),
        page("token_drain", T0 + 3 * MINUTE + 250, key, action="resolve"),
        page("token_drain", T0 + MINUTE, {"org_id": "o1", "api_key_id": "k2"}),  # other key
        page("new_country_for_key", T0 - 1, key),  # before the abuse began
    ]
    card = score(labels, messages)
    drain, country = card.catches
    assert (drain.caught, drain.first_page, drain.latency_ms) == (
        True,
        "2026-11-23T00:03:00.250Z",
        3 * MINUTE + 250,
    )
    assert (country.caught, country.first_page, country.latency_ms) == (False, None, None)
    assert card.missed == [country]
    assert [m["payload"]["timestamp"] for m in card.unexplained] == [
        iso_ms(T0 + MINUTE),
        iso_ms(T0 - 1),
    ]
    report = card.to_json()
    assert report["catches"][0]["abuse_start"] == "2026-11-23T00:00:00.000Z"
    assert report["catches"][0]["latency_ms"] == 3 * MINUTE + 250
    assert (report["expected"], report["caught"], len(report["unexplained"])) == (2, 1, 2)


def test_pages_up_to_the_grace_after_the_end_are_explained() -> None:
    org = {"org_id": "o1"}
    labels = [label("silent", T0, T0 + 20 * MINUTE, org, "source_silent")]
    late = page("source_silent", T0 + 80 * MINUTE, org)
    too_late = page("source_silent", T0 + 80 * MINUTE + 1, org)
    assert score(labels, [late]).catches[0].latency_ms == 80 * MINUTE
    assert not score(labels, [too_late]).catches[0].caught


def test_rules_view_names_rules_without_a_scenario_and_counts_shared_ones() -> None:
    labels = [
        label("farm", T0, T0 + MINUTE, {"ip": "a"}, "ip_account_fanout"),
        label("stuffing", T0, T0 + MINUTE, {"ip": "b"}, "ip_account_fanout", "auth_failure_burst"),
    ]
    messages = [page("ip_account_fanout", T0 + 1000, {"ip": "b"})]
    card = score(labels, messages, ["auth_failure_burst", "ip_account_fanout", "source_silent"])
    assert [(r.rule, r.expected, r.caught) for r in card.rules] == [
        ("auth_failure_burst", 1, 0),
        ("ip_account_fanout", 2, 1),
        ("source_silent", 0, 0),
    ]
    assert card.uncovered == ["source_silent"]


def test_in_time_order_sorts_by_timestamp_then_rule_then_dedup_key() -> None:
    a, b = {"ip": "a"}, {"ip": "b"}
    messages = [
        page("source_silent", T0 + 2000, a),
        page("token_drain", T0 + 1000, b),
        page("token_drain", T0 + 1000, a, action="resolve"),
        page("api_key_burst", T0 + 1000, b),
        page("api_key_burst", T0 + 999, b),
    ]
    ordered = in_time_order(messages)
    assert [(m["payload"]["timestamp"][-7:], m["dedup_key"]) for m in ordered] == [
        ("00.999Z", "api_key_burst/b"),
        ("01.000Z", "api_key_burst/b"),
        ("01.000Z", "token_drain/a"),
        ("01.000Z", "token_drain/b"),
        ("02.000Z", "source_silent/a"),
    ]
    assert sorted(map(id, ordered)) == sorted(map(id, messages))
