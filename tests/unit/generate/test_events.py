"""Schema, ordering, lateness, determinism and file output of the generated events."""

import argparse
import gzip
import ipaddress
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.cli.generate_cmd import register, run
from signalfire.generate import (
    SCENARIO_NAMES,
    GeneratorConfig,
    build_plan,
    iter_events,
    labels,
    plan_events,
    write_jsonl,
    write_labels,
)

CONFIG = GeneratorConfig(events=10_000, scenarios=())
COMMON: dict[str, type] = {
    "event_id": str,
    "ts": int,
    "org_id": str,
    "account_id": str,
    "ip": str,
    "country": str,
    "status": int,
    "event_type": str,
    "attrs": dict,
}
REQUEST: dict[str, type] = {
    **COMMON,
    "api_key_id": str,
    "endpoint": str,
    "model": str,
    "prompt_tokens": int,
    "completion_tokens": int,
    "flagged": bool,
    "categories": list,
}
ACTION_TYPES = {"signup", "login", "key_created", "payment_succeeded", "payment_failed"}
ID_FORMS = {
    "org_id": re.compile(r"^org_[0-9a-f]{8}$"),
    "account_id": re.compile(r"^acct_[0-9a-f]{8}$"),
    "api_key_id": re.compile(r"^key_[0-9a-f]{8}$"),
}


Event = dict[str, Any]


@pytest.fixture(scope="module")
def everything() -> list[Event]:
    return list(iter_events(GeneratorConfig(events=40_000)))


def check_schema(event: Event) -> None:
    kind = event["event_type"]
    if kind == "request":
        expected = REQUEST
    else:
        assert kind in ACTION_TYPES
        expected = {**COMMON, "api_key_id": str} if kind == "key_created" else COMMON
    assert set(event) == set(expected), event
    for name, kind_of in expected.items():
        assert type(event[name]) is kind_of, (name, event)
    for name, form in ID_FORMS.items():
        if name in event:
            assert form.match(event[name]), event
    ipaddress.ip_address(event["ip"])
    assert re.fullmatch(r"[A-Z]{2}", event["country"])
    assert event["attrs"]["plan"] in {"free", "pro", "enterprise"}
    assert isinstance(event["attrs"]["user_agent"], str)
    if kind == "request":
        assert event["endpoint"].startswith("/v1/")
        assert event["status"] in {200, 400, 401, 429, 500}
        assert 0 <= event["prompt_tokens"] <= 128_000  # the largest context window
        assert 0 <= event["completion_tokens"] <= 4096
        assert bool(event["categories"]) == event["flagged"]
        assert all(isinstance(c, str) for c in event["categories"])


def test_every_event_has_the_contract_schema(everything: list[Event]) -> None:
    for event in everything:
        check_schema(event)
    kinds = {e["event_type"] for e in everything}
    assert "request" in kinds
    assert kinds - {"request"} <= ACTION_TYPES
    assert len(kinds) >= 4
    assert any(":" in e["ip"] for e in everything), "some IPv6 clients"
    assert sum(e["event_type"] == "request" for e in everything) / len(everything) > 0.99


def test_no_prompt_text_anywhere(everything: list[Event]) -> None:
    blob = orjson.dumps(everything[:5000]).decode()
    for word in ('prompt"', '"text', '"content', '"messages', '"input'):
        assert word not in blob


def test_exact_count_and_unique_ids(everything: list[Event]) -> None:
    assert len(everything) == 40_000
    assert [e["event_id"] for e in everything] == [f"e-7-{n}" for n in range(40_000)]


def test_status_mix(everything: list[Event]) -> None:
    requests = [e for e in everything if e["event_type"] == "request"]
    share = {
        code: sum(e["status"] == code for e in requests) / len(requests)
        for code in (200, 401, 429, 500)
    }
    assert share[200] > 0.95
    assert share[401] < 0.005
    assert 0.003 < share[429] < 0.05
    assert share[500] < 0.02


def out_of_order(events: list[Event]) -> tuple[int, int]:
    late, high, worst = 0, -1, 0
    for event in events:
        if event["ts"] < high:
            late += 1
            worst = max(worst, high - event["ts"])
        high = max(high, event["ts"])
    return late, worst


def test_a_small_fraction_is_up_to_5s_late(everything: list[Event]) -> None:
    late, worst = out_of_order(everything)
    assert 0.005 < late / len(everything) < 0.015
    assert 0 < worst <= 5000


def test_lateness_is_configurable() -> None:
    events = list(iter_events(GeneratorConfig(events=20_000, scenarios=(), late_fraction=0.0)))
    assert out_of_order(events) == (0, 0)
    events = list(
        iter_events(
            GeneratorConfig(events=20_000, scenarios=(), late_fraction=0.1, max_lateness_ms=2000)
        )
    )
    late, worst = out_of_order(events)
    assert 0.07 < late / len(events) < 0.11
    assert worst <= 2000


def test_time_span_matches_the_plan(everything: list[Event]) -> None:
    plan = build_plan(GeneratorConfig(events=40_000))
    times = [e["ts"] for e in everything]
    assert plan.config.start_ms <= min(times) < plan.config.start_ms + 5_000
    assert abs(max(times) - plan.end_ms) < 0.01 * plan.duration_ms


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("a.jsonl", "b.jsonl", "a.jsonl.gz", "b.jsonl.gz")]
    for path in paths:
        write_jsonl(iter_events(CONFIG), str(path))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[2].read_bytes() == paths[3].read_bytes()
    assert gzip.decompress(paths[2].read_bytes()) == paths[0].read_bytes()
    other = tmp_path / "c.jsonl"
    write_jsonl(iter_events(GeneratorConfig(events=10_000, scenarios=(), seed=8)), str(other))
    assert other.read_bytes() != paths[0].read_bytes()
    assert labels(GeneratorConfig(events=60_000)) == labels(GeneratorConfig(events=60_000))


def test_a_plan_replays_identically() -> None:
    plan = build_plan(GeneratorConfig(events=25_000, orgs=50))
    assert list(plan_events(plan)) == list(plan_events(plan)) == list(iter_events(plan.config))


def test_jsonl_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl.gz"
    assert write_jsonl(iter_events(CONFIG), str(path)) == CONFIG.events
    with gzip.open(path) as lines:
        decoded = [orjson.loads(line) for line in lines]
    assert decoded == list(iter_events(CONFIG))


def test_labels_file(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    config = GeneratorConfig(events=60_000)
    write_labels(labels(config), str(path))
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [r["scenario"] for r in rows] == list(SCENARIO_NAMES)
    for row in rows:
        assert list(row) == ["scenario", "start_ts", "end_ts", "group", "rules"]
        assert row["start_ts"] <= row["end_ts"]
        assert row["group"] and row["rules"]


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="signalfire")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    assert args.func is run
    code: int = args.func(args)
    return code


def test_cli_writes_events_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ev.jsonl.gz"
    scenarios = "scraping_burst,silent_source"
    argv = ["generate", "--events", "25000", "--seed", "3", "--out", str(out)]
    code = cli([*argv, "--scenarios", scenarios, "--start", "1795392000000"])
    assert code == 0
    with gzip.open(out) as lines:
        events = [orjson.loads(line) for line in lines]
    assert len(events) == 25_000
    assert events[0]["event_id"] == "e-3-0"
    rows = [orjson.loads(x) for x in (tmp_path / "ev.jsonl.gz.labels.jsonl").read_bytes().split()]
    assert [r["scenario"] for r in rows] == ["scraping_burst", "silent_source"]
    assert "events/s" in capsys.readouterr().err


def test_cli_to_stdout_and_errors(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert cli(["generate", "--events", "3000", "--scenarios", "none", "--orgs", "20"]) == 0
    out = capsysbinary.readouterr().out.splitlines()
    assert len(out) == 3000
    check_schema(orjson.loads(out[0]))
    assert cli(["generate", "--events", "100"]) == 2
    assert b"--events >= " in capsysbinary.readouterr().err
    with pytest.raises(SystemExit):
        cli(["generate", "--scenarios", "bogus"])


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    events=st.integers(1, 3000),
    rate=st.floats(1.0, 5000.0),
    orgs=st.integers(10, 60),
    late_fraction=st.floats(0.0, 1.0),
    max_lateness_ms=st.integers(0, 10_000),
)
def test_any_small_config_is_well_formed_and_reproducible(
    seed: int, events: int, rate: float, orgs: int, late_fraction: float, max_lateness_ms: int
) -> None:
    config = GeneratorConfig(
        seed=seed,
        events=events,
        rate=rate,
        orgs=orgs,
        scenarios=(),
        late_fraction=late_fraction,
        max_lateness_ms=max_lateness_ms,
    )
    produced = list(iter_events(config))
    assert len(produced) == events
    assert len({e["event_id"] for e in produced}) == events
    for event in produced:
        check_schema(event)
    _, worst = out_of_order(produced)
    assert worst <= max_lateness_ms
    assert produced == list(iter_events(config))
