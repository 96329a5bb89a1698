"""Deterministic synthetic usage traffic with labelled abuse scenarios (`signalfire generate`).

Usage::

    from signalfire.generate import GeneratorConfig, iter_events, labels, write_jsonl

    config = GeneratorConfig(seed=7, events=200_000)
    write_jsonl(iter_events(config), "events.jsonl.gz")
    truth = labels(config)
"""

from signalfire.generate.config import (
    DEFAULT_START_MS,
    SCENARIO_NAMES,
    GeneratorConfig,
    parse_scenarios,
    parse_start,
)
from signalfire.generate.traffic import (
    Plan,
    TooFewEvents,
    build_plan,
    iter_events,
    labels,
    plan_events,
)
from signalfire.generate.world import min_duration_ms
from signalfire.generate.writer import iter_jsonl_chunks, open_output, write_jsonl, write_labels

__all__ = [
    "DEFAULT_START_MS",
    "SCENARIO_NAMES",
    "GeneratorConfig",
    "Plan",
    "TooFewEvents",
    "build_plan",
    "iter_events",
    "iter_jsonl_chunks",
    "labels",
    "min_duration_ms",
    "open_output",
    "parse_scenarios",
    "parse_start",
    "plan_events",
    "write_jsonl",
    "write_labels",
]
