import dataclasses
from typing import Any

import pytest

from signalfire.generate import (
    DEFAULT_START_MS,
    SCENARIO_NAMES,
    GeneratorConfig,
    TooFewEvents,
    build_plan,
    min_duration_ms,
    parse_scenarios,
    parse_start,
)


def test_default_start_is_2026_11_23_utc() -> None:
    assert parse_start("2026-11-23T00:00:00Z") == DEFAULT_START_MS
    assert GeneratorConfig().start_ms == DEFAULT_START_MS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1795392000000", 1_795_392_000_000),
        ("2026-11-23T00:00:00Z", 1_795_392_000_000),
        ("2026-11-23T01:00:00+01:00", 1_795_392_000_000),
        ("2026-11-23T00:00:00", 1_795_392_000_000),
        ("2026-11-23T00:00:00.250Z", 1_795_392_000_250),
    ],
)
def test_parse_start(text: str, expected: int) -> None:
    assert parse_start(text) == expected


def test_parse_start_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_start("yesterday")


def test_parse_scenarios() -> None:
    assert parse_scenarios("all") == SCENARIO_NAMES
    assert parse_scenarios("none") == ()
    assert parse_scenarios("silent_source, scraping_burst,silent_source") == (
        "silent_source",
        "scraping_burst",
    )
    with pytest.raises(ValueError, match="unknown scenario"):
        parse_scenarios("scraping_burst,nope")


@pytest.mark.parametrize(
    "changes",
    [
        {"events": 0},
        {"rate": 0.0},
        {"orgs": 3},
        {"scenarios": ("nope",)},
        {"scenarios": ("silent_source", "silent_source")},
        {"late_fraction": 1.5},
        {"max_lateness_ms": -1},
    ],
)
def test_config_validation(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GeneratorConfig(**changes)


def test_config_is_frozen_and_hashable() -> None:
    config = GeneratorConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 8  # type: ignore[misc]
    assert hash(config) == hash(GeneratorConfig())


def test_min_duration_covers_each_scenarios_needs() -> None:
    assert min_duration_ms(()) == 0
    # the stolen key needs > 1h of history (new_value warmup) + 10 min of drain
    assert min_duration_ms(("stolen_key_token_drain",)) >= 75 * 60_000
    # 30% of the run must hold a 10 min absence window with room to spare
    assert 0.3 * min_duration_ms(("silent_source",)) >= 15 * 60_000
    assert min_duration_ms(SCENARIO_NAMES) == max(min_duration_ms((n,)) for n in SCENARIO_NAMES)


def test_duration_is_events_over_rate_unless_scenarios_need_more() -> None:
    plan = build_plan(GeneratorConfig(events=100_000, rate=1000, scenarios=()))
    assert plan.duration_ms == 100_000
    assert plan.background_eps == pytest.approx(1000)
    plan = build_plan(GeneratorConfig(events=100_000, rate=1000))
    assert plan.duration_ms == min_duration_ms(SCENARIO_NAMES)
    assert plan.background_eps < 1000


def test_too_few_events_for_the_scenarios_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="--events >= "):
        build_plan(GeneratorConfig(events=5000))


@pytest.mark.parametrize("seed", [3, 7])
def test_the_events_a_too_small_run_asks_for_are_enough(seed: int) -> None:
    config = GeneratorConfig(seed=seed, events=1000)
    with pytest.raises(TooFewEvents) as exc:
        build_plan(config)
    assert f"use --events >= {exc.value.needed}," in str(exc.value)
    enough = dataclasses.replace(config, events=exc.value.needed)
    assert build_plan(enough).config.events == exc.value.needed
