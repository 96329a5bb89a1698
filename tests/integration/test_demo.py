"""The live demo's moving parts on the test broker: worker process, generated traffic at a
rate, pages shown as they arrive, the bridge storing them for the console, and a clean stop."""

import asyncio

import pytest

from alerting.pager import PagerMessage
from alerting.store import open_store
from streams.demo import STORE, DemoOptions, run_demo
from tests.kafka_broker import free_port

pytestmark = pytest.mark.integration


def test_demo_shows_the_injected_abuse_pages_and_stops_cleanly(kafka, capsys):
    port = int(kafka.bootstrap.rsplit(":", 1)[1])
    opts = DemoOptions(
        events=60_000, eps=30_000, port=port, web_port=free_port(), group="demo-t",
        console_port=free_port(), bridge_port=free_port(),
    )  # fmt: skip
    shown: list[PagerMessage] = []
    assert asyncio.run(run_demo(opts, shown.append)) == 0
    rules = {m.payload.component for m in shown if m.event_action == "trigger"}
    assert {"api_key_burst", "token_drain", "trial_signup_burst", "flagged_ratio"} <= rules
    out = capsys.readouterr().out
    assert f"metrics http://127.0.0.1:{opts.web_port}/metrics" in out
    assert f"console http://127.0.0.1:{opts.console_port}/ (log in as demo / " in out
    assert "worker stopped (exit 0)" in out
    assert "bridge stopped (exit 0)" in out and "console stopped (exit 0)" in out
    # The bridge stored what the worker paged, for the console.
    store = open_store(f"sqlite:///{STORE}")
    try:
        stored = {p.rule_id for p in store.list_pages(limit=500).pages}
    finally:
        store.close()
    assert rules <= stored
