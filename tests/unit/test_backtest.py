"""Backtests: pages as the worker would send them, and the would-have-paged diff."""

from dataclasses import dataclass

import orjson

from alerting.message import encode
from alerting.redact import REDACTED, Redaction
from signalfire.backtest import run_backtest
from signalfire.rules import load_rules
from streams.config import WorkerConfig
from streams.processor import Processor
from tests.unit.helpers import base_rule, ev

MIN = 60_000


# -- redaction ------------------------------------------------------------------------------
def test_backtest_always_redacts_secret_fields():
    r = base_rule({"type": "new_value", "field": "attrs.api_key", "warmup": "1m"})
    events = [ev(0, attrs={"api_key": "sk-live-first"}), ev(2 * MIN, attrs={"api_key": "sk-x2"})]
    (page,) = run_backtest([r], [events]).messages
    assert b"sk-live-first" not in orjson.dumps(page) and b"sk-x2" not in orjson.dumps(page)
    assert page["payload"]["custom_details"]["value"] == REDACTED


def test_backtest_redacts_configured_fields():
    r = base_rule({"type": "match"}, group_by=["org_id", "ip"])
    events = [ev(0, ip="203.0.113.9")]
    (clear,) = run_backtest([r], [events]).messages
    (hidden,) = run_backtest([r], [events], redaction=Redaction.of(["ip"])).messages
    assert clear["payload"]["custom_details"]["group"]["ip"] == "203.0.113.9"
    assert hidden["payload"]["custom_details"]["group"] == {"org_id": "o1", "ip": REDACTED}
    assert hidden["dedup_key"] == clear["dedup_key"]


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def test_backtest_pages_are_the_pages_the_worker_sends():
    rules = load_rules(["rules"]).rules
    config = WorkerConfig(rules="rules", idle_timeout_ms=5_000, redact=("api_key_id",))
    worker = Processor(config, rules, lambda: 1000.0)
    worker.partitions = 1
    worker.assign([(config.events_topic, 0)])
    events = [
        {"event_id": f"e{i}", "ts": 1_000 + i * 40, "org_id": "o1", "event_type": "request",
         "api_key_id": "key_secretive", "attrs": {"prompt": "tell me a secret"}}
        for i in range(1_200)
    ]  # fmt: skip
    recs = [Rec(config.events_topic, 0, i, b"o1", orjson.dumps(e)) for i, e in enumerate(events)]
    sent = [v for _, v in worker.process((config.events_topic, 0), recs).pages]
    backtest = run_backtest(rules, [events], redaction=Redaction.of(config.redact))
    burst = [encode(m) for m in backtest.messages if m["payload"]["component"] == "api_key_burst"]
    assert burst and burst == [v for v in sent if b"api_key_burst/" in v]
    assert not any(b"key_secretive" in encode(m) for m in backtest.messages)
