"""Incidents in the page store, on SQLite and PostgreSQL: written from each message's
`custom_details.incident` with the message, idempotent and order-proof, purged with their last
page, listed and read back with their pages and entities."""

import dataclasses

import pytest

from alerting.incidents import Correlator
from alerting.incidents.attach import with_incident
from alerting.pager import PagerMessage
from alerting.store import BadCursor, IncidentFilter, Store, Unstorable
from alerting.store.db import Row
from alerting.store.rows import message_row
from tests.unit.alerting.incident_samples import (
    MIN,
    attack,
    correlated,
    ip_page,
    key_page,
    org_page,
)
from tests.unit.alerting.pager_samples import T0, message


def incident_of(m: PagerMessage) -> str:
    incident = m.payload.custom_details.incident
    assert incident is not None
    return incident.id


def rows(store: Store, table: str) -> list[Row]:
    with store.db.transaction(write=False) as tx:
        return tx.all(f"SELECT * FROM {table} ORDER BY 1, 2")


def test_a_message_without_an_incident_writes_none(store):
    store.record(message())
    store.record(message("resolve", at=T0 + MIN))
    assert rows(store, "incidents") == [] and rows(store, "incident_pages") == []
    [page] = store.list_pages().pages
    assert store.page(page.id).incidents == ()


def test_an_attack_is_one_incident_with_each_pages_latest_status(store, clock):
    messages = attack()
    for m in messages[:6]:  # up to org o2's surge: everything still fires
        store.record(m)
    org1 = incident_of(messages[0])
    [open_one] = [i for i in store.list_incidents().incidents if i.id == org1]
    assert (open_one.state, open_one.resolved_at, open_one.pages) == ("open", None, 3)
    assert (open_one.root_name, open_one.root_value) == ("org_id", "o1")
    assert open_one.root_ref == messages[0].payload.custom_details.entities[0].ref
    assert open_one.opened_at == T0 and open_one.rules == ("key_burst", "org_surge")

    clock.now_s += 60
    for m in messages[6:]:
        store.record(m)
    detail = store.incident(org1)
    assert detail is not None
    i = detail.incident
    assert (i.state, i.opened_at, i.resolved_at, i.pages) == ("resolved", T0, T0 + 25 * MIN, 3)
    assert i.updated_at == int(clock.now_s * 1000)
    surge, k1, k2 = detail.pages
    assert [(p.page.rule_id, p.page.group_text) for p in detail.pages] == [
        ("org_surge", "org_id=o1"), ("key_burst", "api_key_id=k1"), ("key_burst", "api_key_id=k2")
    ]  # fmt: skip
    assert [p.status for p in detail.pages] == ["page_resolved", "page_resolved", "resolved"]
    assert [p.joined_at for p in detail.pages] == [T0, T0 + MIN, T0 + 2 * MIN]
    # k1's later trigger (`updated`) and its resolve keep what absorbed it.
    assert k1.absorbed_by == k2.absorbed_by == surge.page.dedup_key and surge.absorbed_by is None
    assert k1.absorbed_by_page == k2.absorbed_by_page == surge.page.id
    assert all(p.page.state == "resolved" for p in detail.pages)
    assert k1.page.triggers == 2


def test_the_incident_names_the_union_of_its_pages_entities_top_down(store):
    for m in attack():
        store.record(m)
    detail = store.incident(incident_of(attack()[0]))
    assert detail is not None
    assert [(e.name, e.value, e.pages, e.grouped) for e in detail.entities] == [
        ("org_id", "o1", 3, True),  # the surge's group; the keys' events named it
        ("account_id", "a1", 1, False),  # only k2's events named it
        ("api_key_id", "k1", 1, True),
        ("api_key_id", "k2", 1, True),
    ]


def test_a_page_names_its_parents_and_its_incidents(store):
    messages = attack()
    for m in messages:
        store.record(m)
    [k2] = [p for p in store.list_pages().pages if p.group_text == "api_key_id=k2"]
    detail = store.page(k2.id)
    assert detail.entities == {"api_key_id": "k2"}
    assert list(detail.parents.items()) == [("org_id", "o1"), ("account_id", "a1")]
    [incident] = detail.incidents
    assert (incident.id, incident.root_name, incident.root_value) == (
        incident_of(messages[0]), "org_id", "o1"
    )  # fmt: skip
    assert (incident.state, incident.status) == ("resolved", "resolved")
    # The page list and the entity search stay on the group's values.
    assert {p.group_text for p in store.pages_of("o1", "org_id").pages} == {"org_id=o1"}


def test_recording_the_stream_again_changes_nothing(store, clock):
    messages = attack()
    for m in messages:
        store.record(m)
    before = (rows(store, "incidents"), rows(store, "incident_pages"), rows(store, "page_entities"))
    clock.now_s += 3600
    for m in messages:
        assert store.record(m).outcome == "duplicate"
    after = (rows(store, "incidents"), rows(store, "incident_pages"), rows(store, "page_entities"))
    assert after == before


def test_a_message_read_late_never_reopens_an_incident_or_rolls_a_page_back(store):
    messages = attack()
    org1 = incident_of(messages[0])
    # o1's messages with its resolves first, then its triggers: the same rows in the end.
    ones = [m for m in messages if incident_of(m) == org1]
    for m in [*ones[4:], *ones[:4]]:
        store.record(m)
    detail = store.incident(org1)
    assert detail is not None
    i = detail.incident
    assert (i.state, i.resolved_at, i.pages) == ("resolved", T0 + 25 * MIN, 3)
    statuses = {p.page.group_text: (p.status, p.joined_at) for p in detail.pages}
    assert statuses["org_id=o1"] == ("page_resolved", T0)
    assert statuses["api_key_id=k2"] == ("resolved", T0 + 2 * MIN)


def test_a_resolve_at_the_time_of_a_trigger_is_the_later_status(store):
    at = T0 + MIN
    trigger, resolve = correlated([ip_page("trigger", at), ip_page("resolve", at)])
    store.record(resolve)
    store.record(trigger)
    [(status,)] = [r[3:4] for r in rows(store, "incident_pages")]
    assert status == "resolved"


def test_a_resolve_of_a_page_in_no_incident_is_an_incident_alone(store):
    [alone] = correlated([key_page("resolve", T0, "k9")])
    store.record(alone)
    [i] = store.list_incidents().incidents
    assert (i.root_name, i.root_value, i.state) == ("page", alone.dedup_key, "resolved")
    assert (i.opened_at, i.resolved_at, i.pages) == (T0, T0, 1)
    [page] = store.incident(i.id).pages
    assert page.status == "alone" and page.page.state == "resolved"


def test_a_redacted_root_is_kept_redacted_and_named_by_its_ref(store):
    c = Correlator()

    def hidden(m: PagerMessage) -> PagerMessage:
        d = m.payload.custom_details
        entities = tuple(dataclasses.replace(e, value="[redacted]") for e in d.entities)
        group = {k: "[redacted]" for k in d.group}
        d = dataclasses.replace(d, entities=entities, group=group)
        m = dataclasses.replace(m, payload=dataclasses.replace(m.payload, custom_details=d))
        return with_incident(m, c.decide(m))

    store.record(hidden(org_page("trigger", T0)))
    store.record(hidden(key_page("trigger", T0 + MIN, "k1")))
    [i] = store.list_incidents().incidents
    assert (i.root_name, i.root_value, i.pages) == ("org_id", "[redacted]", 2)
    assert i.root_ref == org_page("trigger", T0).payload.custom_details.entities[0].ref
    detail = store.incident(i.id)
    assert detail is not None and detail.entities == ()  # redacted values are no entities
    assert len(detail.pages) == 2


def test_the_list_filters_by_state_and_root_and_pages_newest_first(store):
    for m in attack():
        store.record(m)

    def roots(**where):
        found = store.list_incidents(IncidentFilter(**where)).incidents
        return [(i.root_name, i.root_value) for i in found]

    assert roots() == [("org_id", "o2"), ("ip", "203.0.113.7"), ("org_id", "o1")]
    assert roots(state="open") == [("org_id", "o2"), ("ip", "203.0.113.7")]
    assert roots(state="resolved") == [("org_id", "o1")]
    assert roots(root_name="org_id") == [("org_id", "o2"), ("org_id", "o1")]
    assert roots(root_name="org_id", state="open") == [("org_id", "o2")]
    assert roots(root_name="account_id") == []
    assert store.incident_roots() == ("ip", "org_id")
    [ip] = store.list_incidents(IncidentFilter(root_name="ip")).incidents
    assert ip.rules == ("ip_scan",)
    assert store.incident("inc_0000000000000000") is None


def test_keyset_paging_shows_every_incident_once(store):
    # Seven orgs, two at a time at the same moment: ties in opened_at.
    for m in correlated(org_page("trigger", T0 + (n // 2) * MIN, org=f"o{n}") for n in range(7)):
        store.record(m)
    seen: list[str] = []
    after = None
    while True:
        batch = store.list_incidents(limit=3, after=after)
        seen.extend(i.id for i in batch.incidents)
        if batch.next is None:
            break
        after = batch.next
    assert len(seen) == len(set(seen)) == 7
    opened = [i.opened_at for i in store.list_incidents(limit=7).incidents]
    assert opened == sorted(opened, reverse=True)
    with pytest.raises(BadCursor):
        store.list_incidents(after="yesterday")


def test_retention_purges_an_incident_with_its_last_page(store, clock):
    old = correlated([org_page("trigger", T0), org_page("resolve", T0 + MIN)])
    # The same org pages again two days later: a new incident; one of its pages stays a while.
    later = T0 + 2 * 86_400_000
    new = correlated(
        [org_page("trigger", later, org="o3"), key_page("trigger", later + MIN, "k3", org="o3")]
    )
    for m in [*old, *new]:
        store.record(m)
    clock.now_s = (later + 5 * MIN) / 1000
    purged = store.purge(86_400_000)
    assert (purged.pages, purged.incidents) == (1, 1)
    assert [i.root_value for i in store.list_incidents().incidents] == ["o3"]
    # Only the key's page is older than the retention now: the incident keeps its org page.
    with store.db.transaction() as tx:
        tx.execute("UPDATE pages SET last_event_at = 0 WHERE rule_id = 'key_burst'")
    assert store.purge(86_400_000).incidents == 0
    [left] = store.list_incidents().incidents
    assert [p.page.rule_id for p in store.incident(left.id).pages] == ["org_surge"]


def test_an_incident_whose_counts_or_time_cannot_be_stored_is_refused_before_writing(store):
    [m] = correlated([org_page("trigger", T0)])
    ref = m.payload.custom_details.incident
    assert ref is not None
    for bad in (dataclasses.replace(ref, opened_at="soon"), dataclasses.replace(ref, pages=2**40)):
        details = dataclasses.replace(m.payload.custom_details, incident=bad)
        broken = dataclasses.replace(
            m, payload=dataclasses.replace(m.payload, custom_details=details)
        )
        with pytest.raises(Unstorable, match=r"custom_details\.incident\.(opened_at|pages)"):
            message_row(broken)
    assert store.list_pages().pages == ()
