"""Windowed state keeps its format-1 bytes: a snapshot written by an earlier build restores,
saves back to the very same bytes, and this build writes them too for the same events.

The stored snapshot covers every windowed detector (count, sum, max, ratio, distinct) with
groups spread over several buckets, a late event opening an older bucket after a newer one,
and a group whose condition holds."""

from __future__ import annotations

from pathlib import Path

import orjson

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.unit.helpers import base_rule

FIXTURE = Path(__file__).parent / "fixtures" / "snapshot-format1-windows.bin"
SETTINGS = EngineSettings(allowed_lateness_ms=30_000)

WINDOW_RULES: list[Rule] = [
    base_rule(
        {"type": "threshold", "window": "1m", "bucket": "10s", "op": ">=", "threshold": 5},
        id="w_count",
        group_by=["account_id"],
    ),
    base_rule(
        {
            "type": "threshold",
            "aggregate": "sum",
            "field": "tokens",
            "window": "1m",
            "bucket": "10s",
            "op": ">",
            "threshold": 1000,
        },
        id="w_sum",
        group_by=["account_id"],
    ),
    base_rule(
        {
            "type": "threshold",
            "aggregate": "max",
            "field": "tokens",
            "window": "1m",
            "bucket": "10s",
            "op": ">",
            "threshold": 900,
        },
        id="w_max",
        group_by=["account_id"],
    ),
    base_rule(
        {
            "type": "ratio",
            "numerator": {"status": 500},
            "window": "1m",
            "bucket": "10s",
            "op": ">",
            "threshold": 0.5,
            "min_count": 2,
        },
        id="w_ratio",
        group_by=["account_id"],
    ),
    base_rule(
        {
            "type": "distinct",
            "field": "ip",
            "window": "1m",
            "bucket": "10s",
            "op": ">",
            "threshold": 3,
        },
        id="w_distinct",
        group_by=["account_id"],
    ),
]

# (seconds, account, tokens, status, ip): a1 crosses every threshold, a2 and a3 stay cold
# (evidence is kept for a1 alone, so the bytes do not depend on a hash order); the event at
# 12 s comes after 25 s, a late event opening an older bucket after a newer one.
EVENTS = [
    (1, "a1", 100, 200, "10.0.0.1"),
    (2, "a2", 50, 200, "10.0.0.2"),
    (11, "a1", 950, 500, "10.0.0.3"),
    (25, "a3", 10, 200, "10.0.0.4"),
    (12, "a2", 20, 200, "10.0.0.2"),
    (26, "a1", 30, 500, "10.0.0.5"),
    (27, "a1", 5, 500, "10.0.0.1"),
    (42, "a1", 1.5, 500, "10.0.0.7"),
]


def records() -> list[bytes]:
    return [
        orjson.dumps(
            {"event_id": f"e{n}", "ts": 1_700_000_000_000 + s * 1000, "org_id": "o1",
             "event_type": "request", "account_id": acct, "tokens": tokens,
             "status": status, "ip": ip}
        )
        for n, (s, acct, tokens, status, ip) in enumerate(EVENTS)
    ]  # fmt: skip


def windowed_engine() -> CoreEngine:
    engine = CoreEngine(WINDOW_RULES, SETTINGS)
    fired = engine.process(records()).alerts
    assert sorted(a.rule_id for a in fired) == sorted(r.id for r in WINDOW_RULES)
    return engine


def test_this_build_writes_the_stored_bytes() -> None:
    engine = windowed_engine()
    assert sum(engine.group_counts().values()) == 15
    assert engine.save() == FIXTURE.read_bytes()


def test_stored_snapshot_restores_and_saves_back_unchanged() -> None:
    stored = FIXTURE.read_bytes()
    restored = CoreEngine(WINDOW_RULES, SETTINGS, stored)
    assert restored.group_counts() == windowed_engine().group_counts()
    assert restored.save() == stored
