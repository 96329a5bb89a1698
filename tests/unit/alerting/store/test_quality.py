"""`Store.triage_facts`: one row per episode started in the range, with its first
acknowledgement, first verdict and standing verdict; the same on SQLite and PostgreSQL."""

import dataclasses

import pytest

from alerting.quality import quality_table
from alerting.store import TriageFact
from tests.unit.alerting.pager_samples import T0, fanout, message

MIN = 60_000


def test_facts_of_the_episodes_started_in_the_range(store, clock):
    clock.now_s = T0 / 1000  # the pages reach the store (and on-call) at T0
    first = store.record(message(key="k_1", at=T0)).page_id
    store.record(message("resolve", key="k_1", at=T0 + 5 * MIN))
    second = store.record(message(key="k_1", at=T0 + 10 * MIN)).page_id  # the next episode
    other = store.record(fanout(at=T0 + 20 * MIN)).page_id
    store.record(message(key="k_2", at=T0 + 30 * MIN))  # after the range
    store.record(message(key="k_3", at=T0 - 1))  # before it

    clock.now_s = (T0 + 2 * MIN) / 1000
    store.acknowledge(first, "ivy")
    clock.now_s = (T0 + 3 * MIN) / 1000
    store.verdict(first, "false_positive", "ivy")
    clock.now_s = (T0 + 4 * MIN) / 1000
    store.acknowledge(first, "ada")  # the first acknowledgement stands
    store.verdict(first, "confirmed_abuse", "ada", "it was abuse after all")
    clock.now_s = (T0 + 25 * MIN) / 1000
    store.verdict(other, "duplicate", "ivy")

    facts = store.triage_facts(T0, T0 + 30 * MIN)  # since inclusive, until exclusive
    assert facts == [
        TriageFact(first, "api_key_burst", "critical", T0, T0 + 2 * MIN, T0 + 3 * MIN,
                   "confirmed_abuse", paged_at=T0),
        TriageFact(second, "api_key_burst", "critical", T0 + 10 * MIN, None, None, None,
                   paged_at=T0),
        TriageFact(other, "ip_account_fanout", "warning", T0 + 20 * MIN, None, T0 + 25 * MIN,
                   "duplicate", paged_at=T0),
    ]  # fmt: skip

    burst, fan = quality_table(facts)
    assert (burst.rule, burst.total.pages, burst.total.precision) == ("api_key_burst", 2, 1.0)
    assert burst.total.time_to_ack.p50 == 120.0 and burst.total.time_to_verdict.p90 == 180.0
    assert (fan.total.verdicts["duplicate"], fan.total.precision) == (1, None)


def test_an_empty_range_and_a_backwards_one(store):
    store.record(message(at=T0))
    assert store.triage_facts(T0 + 1, T0 + 1) == []
    with pytest.raises(ValueError, match="since is after until"):
        store.triage_facts(T0 + 1, T0)


def test_shadow_episodes_overlapping_judged_pages_on_an_entity(store, clock):
    clock.now_s = T0 / 1000
    judged = store.record(message(key="k_1", at=T0)).page_id
    store.record(message("resolve", key="k_1", at=T0 + 10 * MIN))
    shadow = message(key="k_1", at=T0 + 5 * MIN)
    details = shadow.payload.custom_details
    rule = dataclasses.replace(details.rule, id="burst_trial", mode="shadow")
    shadow = dataclasses.replace(
        shadow,
        dedup_key="burst_trial/1",
        payload=dataclasses.replace(
            shadow.payload, custom_details=dataclasses.replace(details, rule=rule)
        ),
    )
    store.record(shadow)
    store.verdict(judged, "confirmed_abuse", "ivy")
    [s] = store.entity_episodes(T0, T0 + 30 * MIN, shadow=True)
    [j] = store.entity_episodes(T0, T0 + 30 * MIN, shadow=False)
    assert (s.rule_id, s.started_at, s.verdict) == ("burst_trial", T0 + 5 * MIN, None)
    assert (j.page_id, j.started_at, j.ended_at, j.verdict) == (
        judged, T0, T0 + 10 * MIN, "confirmed_abuse"
    )  # fmt: skip
    assert ("api_key_id", "k_1") in s.entities and s.entities == j.entities
    # The shadow rule's page is not in the live table.
    assert [r.rule for r in quality_table(store.triage_facts(T0, T0 + 30 * MIN))] == [
        "api_key_burst"
    ]
