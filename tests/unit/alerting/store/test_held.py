"""Pages kept from on-call in the store: a shadow rule's and a snoozed trigger's episodes are
marked with why, whatever order the two topics' consumers store their messages in, and the
list filters on it."""

from __future__ import annotations

import dataclasses

import pytest

from alerting.pager import PagerMessage, held_by_snooze
from alerting.store import Delivery, PageFilter, Store
from tests.unit.alerting.pager_samples import T0, fanout, message

MIN = 60_000


def shadow(page: PagerMessage) -> PagerMessage:
    details = page.payload.custom_details
    rule = dataclasses.replace(details.rule, mode="shadow")
    details = dataclasses.replace(details, rule=rule)
    return dataclasses.replace(
        page, payload=dataclasses.replace(page.payload, custom_details=details)
    )


def snoozed(page: PagerMessage) -> PagerMessage:
    return held_by_snooze(page, "snooze/abc", "2026-11-23T12:00:00.000Z")


@pytest.mark.parametrize("resolve_first", [False, True])
def test_a_snoozed_trigger_and_its_resolve_are_one_episode_in_either_order(
    store: Store, resolve_first: bool
) -> None:
    trigger, resolve = snoozed(message(at=T0)), message("resolve", at=T0 + 5 * MIN)
    for m in [resolve, trigger] if resolve_first else [trigger, resolve]:
        store.record(m)
    [page] = store.list_pages().pages
    assert (page.state, page.started_at, page.resolved_at) == ("resolved", T0, T0 + 5 * MIN)
    assert (page.triggers, page.held) == (1, "snoozed")
    assert page.summary.startswith("RESOLVED")  # the latest message's
    detail = store.page(page.id)
    assert detail is not None and detail.details["snooze"]["key"] == "snooze/abc"
    assert [m.event_action for m in detail.messages] == ["trigger", "resolve"]


def test_a_later_episode_is_not_taken_for_an_earlier_resolve(store: Store) -> None:
    store.record(message("resolve", at=T0))  # an episode whose trigger is long gone
    store.record(message(at=T0 + 10 * MIN))
    newest, oldest = store.list_pages().pages
    assert (oldest.state, oldest.triggers) == ("resolved", 0)
    assert (newest.state, newest.triggers, newest.started_at) == ("triggered", 1, T0 + 10 * MIN)


def test_the_list_filters_on_how_a_page_was_delivered(store: Store) -> None:
    store.record(message(key="k_paged"))
    store.record(snoozed(message(key="k_snoozed")))
    store.record(shadow(fanout()))

    def held(*delivery: Delivery) -> list[str]:
        pages = store.list_pages(PageFilter(delivery=delivery)).pages
        return sorted(p.held or "paged" for p in pages)

    assert held() == ["paged", "shadow", "snoozed"]
    assert held("paged") == ["paged"]
    assert held("paged", "snoozed") == ["paged", "snoozed"]
    assert held("shadow") == ["shadow"]
