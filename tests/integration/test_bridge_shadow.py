"""Pages kept from on-call, on real Kafka through a real bridge: a shadow rule's pages and a
snoozed trigger, read from the shadow topic, reach the page store (marked with why) and never a
pager; the pager topic's pages reach both."""

import dataclasses
import time
import uuid

import pytest

from alerting.pager import PagerMessage, held_by_snooze
from alerting.store import open_store
from tests.integration.bridge_harness import BridgeProcess, HookServer, produce_pages
from tests.unit.alerting.pager_samples import T0, fanout, message

pytestmark = pytest.mark.integration


def shadow(page: PagerMessage) -> PagerMessage:
    details = page.payload.custom_details
    details = dataclasses.replace(details, rule=dataclasses.replace(details.rule, mode="shadow"))
    return dataclasses.replace(
        page, payload=dataclasses.replace(page.payload, custom_details=details)
    )


def test_shadow_and_snoozed_pages_reach_the_store_and_never_a_pager(kafka, tmp_path):
    tag = uuid.uuid4().hex[:8]
    pager, held, dlq = f"pager-{tag}", f"pager-{tag}.shadow", f"pager-dlq-{tag}"
    for topic, partitions in ((pager, 2), (held, 2), (dlq, 1)):
        kafka.create_topic(topic, partitions)
    db = tmp_path / "pages.db"
    with HookServer() as hook:
        config = tmp_path / "bridge.yaml"
        config.write_text(
            "sinks:\n"
            f"  - name: hook\n    type: webhook\n    url: {hook.url}\n"
            f"  - name: store\n    type: store\n    url: sqlite:///{db}\n"
            "routes:\n  - sinks: [store]\n    continue: true\n  - sinks: [hook]\n"
        )
        bridge = BridgeProcess(kafka, config, pager, dlq, f"bridge-{tag}").start(tmp_path)
        try:
            bridge.wait_ready()
            snoozed = held_by_snooze(message(key="k_held"), "snooze/x", "2026-11-23T12:00:00.000Z")
            produce_pages(kafka, held, [shadow(fanout()), snoozed])
            produce_pages(kafka, pager, [message(key="k_paged")])
            # The held trigger's resolve comes on the pager topic, as the worker sends it.
            produce_pages(kafka, pager, [message("resolve", key="k_held", at=T0 + 60_000)])
            bridge.wait_metric("signalfire_bridge_store_writes_total", 4)
            time.sleep(1)  # anything a pager would have been sent arrives by now
        finally:
            assert bridge.stop() == 0
    store = open_store(f"sqlite:///{db}")
    try:
        pages = {p.group_text: p for p in store.list_pages().pages}
    finally:
        store.close()
    held_by = {text.split("=", 2)[-1]: p.held for text, p in pages.items()}
    assert sorted(held_by.values(), key=str) == [None, "shadow", "snoozed"]
    [snoozed_page] = [p for p in pages.values() if p.held == "snoozed"]
    assert (snoozed_page.state, snoozed_page.triggers) == ("resolved", 1)
    sent = sorted((c.key, c.action) for c in hook.calls)
    assert sent == sorted(
        [(message(key="k_paged").dedup_key, "trigger"), (snoozed.dedup_key, "resolve")]
    )
