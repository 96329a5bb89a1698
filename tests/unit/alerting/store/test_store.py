"""The page store's API, the same table on SQLite and PostgreSQL: idempotent writes, episodes,
entities, filtered keyset lists, detail, acknowledgements, verdicts, snoozes, retention."""

import dataclasses

import pytest

from alerting.pager import PagerMessage
from alerting.store import BadCursor, PageFilter, Unstorable, open_store
from tests.unit.alerting.pager_samples import T0, fanout, message

MIN = 60_000


def test_a_message_is_stored_once_however_often_it_is_recorded(store):
    first = store.record(message())
    again = store.record(message())
    assert first.outcome == "stored" and again.outcome == "duplicate"
    assert (again.page_id, again.message_id) == (first.page_id, first.message_id)
    [page] = store.list_pages().pages
    assert page.triggers == 1 and page.state == "triggered"
    assert len(store.page(page.id).messages) == 1


def test_trigger_then_resolve_is_one_episode_and_a_new_trigger_opens_the_next(store):
    store.record(message(at=T0))
    store.record(message("resolve", at=T0 + 5 * MIN))
    store.record(message(at=T0 + 10 * MIN))
    newest, oldest = store.list_pages().pages
    assert (oldest.state, oldest.started_at, oldest.resolved_at) == (
        "resolved", T0, T0 + 5 * MIN
    )  # fmt: skip
    assert oldest.summary.startswith("RESOLVED")
    assert (newest.state, newest.started_at, newest.resolved_at) == (
        "triggered",
        T0 + 10 * MIN,
        None,
    )
    assert newest.dedup_key == oldest.dedup_key and newest.id != oldest.id
    detail = store.page(oldest.id)
    assert [(m.event_action, m.event_at) for m in detail.messages] == [
        ("trigger", T0), ("resolve", T0 + 5 * MIN)
    ]  # fmt: skip


def test_a_repeated_trigger_joins_the_open_episode_with_the_newest_evidence(store):
    store.record(message(at=T0))
    repeat = message(at=T0 + MIN)
    details = dataclasses.replace(repeat.payload.custom_details, value=2000)
    repeat = dataclasses.replace(
        repeat, payload=dataclasses.replace(repeat.payload, custom_details=details)
    )
    store.record(repeat)
    [page] = store.list_pages().pages
    assert (page.triggers, page.started_at, page.last_event_at) == (2, T0, T0 + MIN)
    assert store.page(page.id).details["value"] == 2000


def test_a_resolve_without_its_trigger_is_an_episode_resolved_from_the_start(store):
    store.record(message("resolve", at=T0))
    [page] = store.list_pages().pages
    assert (page.state, page.triggers, page.started_at, page.resolved_at) == (
        "resolved", 0, T0, T0
    )  # fmt: skip


def test_replaying_the_topic_changes_nothing(store):
    topic = [
        message(at=T0), fanout(at=T0), message("resolve", at=T0 + MIN), message(at=T0 + 2 * MIN)
    ]  # fmt: skip
    for m in topic:
        assert store.record(m).outcome == "stored"
    before = store.list_pages()
    details = [store.page(p.id) for p in before.pages]
    for m in topic:
        assert store.record(m).outcome == "duplicate"
    assert store.list_pages() == before
    assert [store.page(p.id) for p in before.pages] == details


def test_entities_are_the_group_values_shown_and_find_every_page_of_one(store):
    store.record(message(key="k_1", ip="203.0.113.1"))
    store.record(message(key="k_2", ip="203.0.113.1"))
    store.record(fanout(ip="203.0.113.1"))
    store.record(fanout(ip="198.51.100.2"))
    assert len(store.pages_of("203.0.113.1").pages) == 3
    assert len(store.pages_of("203.0.113.1", "ip").pages) == 3
    assert store.pages_of("203.0.113.1", "org_id").pages == ()
    [k1] = store.pages_of("k_1").pages
    assert store.page(k1.id).entities == {
        "org_id": "o_1", "api_key_id": "k_1", "ip": "203.0.113.1"
    }  # fmt: skip


def test_redacted_group_values_are_not_entities(store):
    page = message()
    details = page.payload.custom_details
    hidden = dataclasses.replace(details, group={**details.group, "ip": "[redacted]"})
    store.record(
        dataclasses.replace(page, payload=dataclasses.replace(page.payload, custom_details=hidden))
    )
    [p] = store.list_pages().pages
    assert "ip" not in store.page(p.id).entities
    assert store.pages_of("[redacted]").pages == ()


def test_filters_by_rule_severity_state_and_time(store):
    store.record(message(key="a", at=T0))
    store.record(message(key="b", at=T0 + MIN))
    store.record(message("resolve", key="b", at=T0 + 2 * MIN))
    store.record(fanout(at=T0 + 3 * MIN))

    def keys(**where):
        return [p.group_text for p in store.list_pages(PageFilter(**where)).pages]

    assert len(keys()) == 3
    assert keys(rule="ip_account_fanout") == ["ip=203.0.113.50"]
    assert len(keys(severity=("critical",))) == 2
    assert len(keys(severity=("critical", "warning"))) == 3
    assert keys(state="resolved") == ["org_id=o_1,api_key_id=b,ip=203.0.113.9"]
    assert len(keys(state="triggered")) == 2
    assert keys(since_ms=T0 + MIN, until_ms=T0 + 3 * MIN) == [
        "org_id=o_1,api_key_id=b,ip=203.0.113.9"
    ]
    assert keys(rule="api_key_burst", state="triggered", entity="a") == [
        "org_id=o_1,api_key_id=a,ip=203.0.113.9"
    ]


def test_keyset_paging_shows_every_page_once_while_new_ones_arrive(store):
    for i in range(7):
        store.record(message(key=f"k{i}", at=T0 + (i // 2) * MIN))  # ties in started_at
    seen: list[int] = []
    after: str | None = None
    while True:
        batch = store.list_pages(limit=3, after=after)
        seen.extend(p.id for p in batch.pages)
        if len(seen) == 3:
            store.record(message(key="late", at=T0 + 9 * MIN))  # newer: not in this walk
        if batch.next is None:
            break
        after = batch.next
    assert len(seen) == 7 == len(set(seen))
    starts = [store.page(i).page.started_at for i in seen]
    assert starts == sorted(starts, reverse=True)
    with pytest.raises(BadCursor):
        store.list_pages(after="nonsense")
    with pytest.raises(ValueError):
        store.list_pages(limit=0)


def test_page_detail_holds_the_evidence_and_the_messages(store):
    recorded = store.record(message())
    detail = store.page(recorded.page_id)
    assert detail.details["evidence"]["sample_event_ids"] == ["e1", "e2"]
    assert detail.details["rule"]["id"] == "api_key_burst"
    assert detail.messages[0].body["dedup_key"] == detail.page.dedup_key
    assert (detail.page.rule_id, detail.page.severity, detail.page.detector) == (
        "api_key_burst", "critical", "threshold"
    )  # fmt: skip
    assert store.page(recorded.page_id + 1000) is None


def test_acknowledge_once_and_audited(store, clock):
    page_id = store.record(message()).page_id
    ack = store.acknowledge(page_id, "ana", "looking")
    clock.now_s += 60
    assert store.acknowledge(page_id, "bo") == ack
    detail = store.page(page_id)
    assert detail.acknowledgement == ack and detail.page.acknowledged_at == ack.at
    [entry] = store.audit_log()
    assert (entry.who, entry.action, entry.target, entry.detail) == (
        "ana", "acknowledge", f"page:{page_id}", {"note": "looking"}
    )  # fmt: skip
    with pytest.raises(KeyError):
        store.acknowledge(page_id + 1000, "ana")


def test_verdicts_keep_their_history_and_the_last_stands(store):
    page_id = store.record(message()).page_id
    store.verdict(page_id, "false_positive", "ana", "test traffic")
    store.verdict(page_id, "confirmed_abuse", "bo", "it was not")
    detail = store.page(page_id)
    assert [(v.verdict, v.who) for v in detail.verdicts] == [
        ("false_positive", "ana"), ("confirmed_abuse", "bo")
    ]  # fmt: skip
    assert detail.page.verdict == "confirmed_abuse"
    assert store.list_pages().pages[0].verdict == "confirmed_abuse"
    assert [e.action for e in store.audit_log()] == ["verdict", "verdict"]
    with pytest.raises(ValueError):
        store.verdict(page_id, "maybe", "ana")


def test_snoozes_of_a_rule_group_or_entity_until_a_time(store, clock):
    now = int(clock.now_s * 1000)
    page = message()
    store.snooze(until_ms=now + MIN, reason="load test", who="ana",
                 rule_id="api_key_burst", dedup_key=page.dedup_key)  # fmt: skip
    store.snooze(until_ms=now + 2 * MIN, reason="partner", who="bo", entity_value="o_1",
                 entity_name="org_id")  # fmt: skip
    assert [s.who for s in store.snoozes()] == ["ana", "bo"]
    assert [s.who for s in store.snoozes(now + MIN)] == ["bo"]
    assert [e.target for e in store.audit_log()] == ["entity:o_1", "rule:api_key_burst"]
    with pytest.raises(ValueError):
        store.snooze(until_ms=now, reason="", who="ana")


def test_purge_drops_what_is_older_than_the_retention(store, clock):
    old = store.record(message(key="old", at=T0)).page_id
    store.record(message("resolve", key="old", at=T0 + MIN))
    store.acknowledge(old, "ana")
    store.verdict(old, "benign", "ana")
    new = store.record(message(key="new", at=T0 + 10 * 24 * 60 * MIN)).page_id
    store.snooze(until_ms=T0, reason="done", who="ana", rule_id="api_key_burst")
    clock.now_s = (T0 + 12 * 24 * 60 * MIN) / 1000
    purged = store.purge(5 * 24 * 60 * MIN)
    assert (purged.pages, purged.snoozes) == (1, 1)
    assert [p.id for p in store.list_pages().pages] == [new]
    assert store.page(old) is None and store.pages_of("old").pages == ()
    assert len(store.audit_log()) == 3  # the audit log outlives the pages
    assert store.purge(5 * 24 * 60 * MIN).pages == 0


def test_a_message_that_cannot_be_stored_leaves_nothing(store):
    page = message()
    bad = dataclasses.replace(page, payload=dataclasses.replace(page.payload, timestamp="soon"))
    with pytest.raises(Unstorable, match=r"payload\.timestamp"):
        store.record(bad)
    naive = dataclasses.replace(
        page, payload=dataclasses.replace(page.payload, timestamp="2026-11-23T08:00:00")
    )
    with pytest.raises(Unstorable):
        store.record(naive)
    assert store.list_pages().pages == ()


def test_nul_characters_are_stored_alike_in_both_dialects(store):
    page = message(key="k\x00nul")
    recorded = store.record(page)
    assert store.record(page).outcome == "duplicate"
    detail = store.page(recorded.page_id)
    assert detail.entities["api_key_id"] == "k\ufffdnul"
    assert "k\x00nul" in detail.messages[0].body["payload"]["summary"]


def _with_group_value(page: PagerMessage, value: object) -> PagerMessage:
    details = dataclasses.replace(page.payload.custom_details, group={"n": value})
    return dataclasses.replace(
        page, payload=dataclasses.replace(page.payload, custom_details=details)
    )


def test_non_text_group_values_are_entities_as_json(store):
    store.record(_with_group_value(message(), 42))
    assert len(store.pages_of("42", "n").pages) == 1


def test_a_reader_never_blocks_the_writer(store_url):
    reader = open_store(store_url)
    writer = open_store(store_url, connect_timeout_s=1)
    try:
        with reader.db.transaction(write=False) as tx:
            tx.all("SELECT COUNT(*) FROM pages")
            assert writer.record(message()).outcome == "stored"
    finally:
        reader.close()
        writer.close()
