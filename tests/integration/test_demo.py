"""The live demo's moving parts on the test broker: worker process, generated traffic at a
rate, pages shown as they arrive, and a clean stop."""

import asyncio

import pytest

from alerting.pager import PagerMessage
from streams.demo import DemoOptions, run_demo
from tests.kafka_broker import free_port

pytestmark = pytest.mark.integration


def test_demo_shows_the_injected_abuse_pages_and_stops_cleanly(kafka, capsys):
    port = int(kafka.bootstrap.rsplit(":", 1)[1])
    opts = DemoOptions(events=60_000, eps=30_000, port=port, web_port=free_port(), group="demo-t")
    shown: list[PagerMessage] = []
    assert asyncio.run(run_demo(opts, shown.append)) == 0
    rules = {m.payload.component for m in shown if m.event_action == "trigger"}
    assert {"api_key_burst", "token_drain", "trial_signup_burst", "flagged_ratio"} <= rules
    out = capsys.readouterr().out
    assert f"metrics http://127.0.0.1:{opts.web_port}/metrics" in out
    assert "worker stopped (exit 0)" in out
