"""Snoozes: their control-topic records and which triggers they hold back."""

from __future__ import annotations

import orjson
import pytest

from alerting.pager import decode as decode_page
from alerting.pager import encode as encode_page
from alerting.pager import held_by_snooze
from alerting.snooze import Entity, Snooze, SnoozeBook, SnoozeError, decode, encode, snooze_key
from tests.unit.alerting.pager_samples import message

T0 = 1_790_000_000_000
GROUP = (("org_id", "o_1"), ("api_key_id", "k_1"))


def group_snooze(until: int = T0 + 60_000, key: str = "api_key_burst/aa") -> Snooze:
    return Snooze(until, "known load test", "alice", T0, dedup_key=key, rule_id="api_key_burst")


def entity_snooze(field: str = "org_id", value: str = "o_1", until: int = T0 + 60_000) -> Snooze:
    return Snooze(until, "customer migration", "bob", T0, entity=Entity(field, value))


@pytest.mark.parametrize("snooze", [group_snooze(), entity_snooze()])
def test_a_snooze_reads_back_as_written(snooze: Snooze) -> None:
    assert decode(encode(snooze)) == snooze


def test_the_record_key_depends_on_the_target_only() -> None:
    assert group_snooze().key == group_snooze(until=T0 + 1).key
    assert group_snooze().key != group_snooze(key="api_key_burst/bb").key
    assert entity_snooze().key == entity_snooze(until=T0 + 5).key
    assert entity_snooze().key != entity_snooze(value="o_2").key
    assert entity_snooze().key != entity_snooze(field="account_id").key
    with pytest.raises(ValueError):
        snooze_key(None, None)
    with pytest.raises(ValueError):
        snooze_key("r/aa", Entity("ip", "1.2.3.4"))


@pytest.mark.parametrize(
    ("body", "at_fault"),
    [
        (b"not json", "not JSON"),
        (b"[]", "kind"),
        (b'{"kind": "mute"}', "kind"),
        (b'{"kind": "snooze", "created": "2026-01-01T00:00:00Z", "dedup_key": "r/a"}', "until"),
        (
            b'{"kind": "snooze", "until": "2026-01-01T00:00:00", "created": '
            b'"2026-01-01T00:00:00Z", "dedup_key": "r/a"}',
            "until",
        ),
        (
            b'{"kind": "snooze", "until": "2026-01-01T00:00:00Z", "created": '
            b'"2026-01-01T00:00:00Z"}',
            "dedup_key",
        ),
        (
            b'{"kind": "snooze", "until": "2026-01-01T00:00:00Z", "created": '
            b'"2026-01-01T00:00:00Z", "dedup_key": "r/a", "entity": {"field": "ip", "value": "x"}}',
            "dedup_key and entity",
        ),
        (
            b'{"kind": "snooze", "until": "2026-01-01T00:00:00Z", "created": '
            b'"2026-01-01T00:00:00Z", "entity": {"field": "ip", "value": 3}}',
            "entity",
        ),
        (
            b'{"kind": "snooze", "until": "2026-01-01T00:00:00Z", "created": '
            b'"2026-01-01T00:00:00Z", "dedup_key": "r/a", "reason": 7}',
            "reason",
        ),
    ],
)
def test_a_bad_record_names_the_field_at_fault(body: bytes, at_fault: str) -> None:
    with pytest.raises(SnoozeError) as err:
        decode(body)
    assert str(err.value).startswith(at_fault)


def test_long_texts_are_cut() -> None:
    body = orjson.loads(encode(group_snooze()))
    body["reason"] = "x" * 5000
    assert len(decode(orjson.dumps(body)).reason) == 1024


def test_a_group_snooze_holds_its_group_until_it_ends() -> None:
    book = SnoozeBook()
    snooze = group_snooze()
    book.apply(snooze.key, snooze)
    assert book.covering("api_key_burst/aa", GROUP, T0) == snooze
    assert book.covering("api_key_burst/aa", GROUP, T0 + 59_999) == snooze
    assert book.covering("api_key_burst/aa", GROUP, T0 + 60_000) is None  # ended
    assert book.covering("api_key_burst/bb", GROUP, T0) is None  # another group


@pytest.mark.parametrize(
    ("group", "held"),
    [
        ((("org_id", "o_1"),), True),
        ((("org_id", "o_1"), ("ip", "1.2.3.4")), True),
        ((("account_id", "o_1"),), False),  # the value under another field
        ((("org_id", "o_2"),), False),
        ((("ip", "1.2.3.4"),), False),  # a rule not grouped by the field
    ],
)
def test_an_entity_snooze_holds_every_rule_grouped_by_its_field(
    group: tuple[tuple[str, str], ...], held: bool
) -> None:
    book = SnoozeBook()
    snooze = entity_snooze()
    book.apply(snooze.key, snooze)
    assert (book.covering("any_rule/00", group, T0) is not None) is held


def test_entity_values_that_are_not_strings_match_their_json() -> None:
    book = SnoozeBook()
    snooze = entity_snooze("port", "443")
    book.apply(snooze.key, snooze)
    assert book.covering("r/00", (("port", 443),), T0) == snooze


def test_a_later_record_replaces_and_a_tombstone_lifts() -> None:
    book = SnoozeBook()
    first = group_snooze(until=T0 + 1000)
    book.apply(first.key, first)
    longer = group_snooze(until=T0 + 9000)
    book.apply(longer.key, longer)
    assert len(book) == 1
    assert book.covering("api_key_burst/aa", GROUP, T0 + 5000) == longer
    book.apply(longer.key, None)
    assert len(book) == 0
    assert book.covering("api_key_burst/aa", GROUP, T0) is None
    entity = entity_snooze()
    book.apply(entity.key, entity)
    book.apply(entity.key, None)
    assert book.covering("r/00", (("org_id", "o_1"),), T0) is None


def test_a_held_trigger_names_its_snooze_and_reads_back() -> None:
    page = message()
    held = held_by_snooze(page, "snooze/abc", "2026-11-23T12:00:00.000Z")
    body = orjson.loads(encode_page(held))
    assert body["payload"]["custom_details"]["snooze"] == {
        "key": "snooze/abc", "until": "2026-11-23T12:00:00.000Z"
    }  # fmt: skip
    assert decode_page(encode_page(held)) == held
    assert "snooze" not in orjson.loads(encode_page(page))["payload"]["custom_details"]
