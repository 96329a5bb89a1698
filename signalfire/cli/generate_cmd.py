"""`signalfire generate`: synthetic usage events (JSONL) plus a ground-truth label file."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from signalfire.cli.files import check_writable, write_problem
from signalfire.cli.progress import QUIET, ProgressView, counted
from signalfire.generate.config import (
    DEFAULT_START_MS,
    SCENARIO_NAMES,
    GeneratorConfig,
    parse_scenarios,
    parse_start,
)
from signalfire.generate.population import KEY_CAP_EPS
from signalfire.generate.traffic import build_plan, plan_events
from signalfire.generate.writer import write_jsonl, write_labels

_DEFAULTS = GeneratorConfig()


def _scenarios(text: str) -> tuple[str, ...]:
    try:
        return parse_scenarios(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _start(text: str) -> int:
    try:
        return parse_start(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `generate` subcommand (its handler is `run`, also set as `func`)."""
    parser = subparsers.add_parser(
        "generate",
        help="synthetic usage traffic with labelled abuse scenarios",
        description=(
            "Write deterministic synthetic usage events (JSONL) with labelled abuse scenarios "
            "and a ground-truth label file. The run lasts EVENTS/RATE seconds of event time, "
            "but at least what the selected scenarios need (up to 89 min); the background rate "
            "is then lowered so that exactly EVENTS events are written."
        ),
    )
    parser.add_argument(
        "--seed", type=int, default=_DEFAULTS.seed, help="generator seed (default %(default)s)"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=_DEFAULTS.events,
        metavar="N",
        help="total events to write (default %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=_DEFAULTS.rate,
        metavar="EPS",
        help="background events per second of event time (default %(default)s)",
    )
    parser.add_argument(
        "--start",
        type=_start,
        default=DEFAULT_START_MS,
        metavar="TIME",
        help="run start, ISO-8601 or epoch ms (default 2026-11-23T00:00:00Z)",
    )
    parser.add_argument(
        "--orgs",
        type=int,
        default=_DEFAULTS.orgs,
        help="number of customer orgs (default %(default)s)",
    )
    parser.add_argument(
        "--scenarios",
        type=_scenarios,
        default=SCENARIO_NAMES,
        metavar="a,b,...|all|none",
        help=f"abuse scenarios to inject (default all: {','.join(SCENARIO_NAMES)})",
    )
    parser.add_argument(
        "--late-fraction",
        type=float,
        default=_DEFAULTS.late_fraction,
        metavar="F",
        help="share of events delivered late (default %(default)s)",
    )
    parser.add_argument(
        "--max-lateness-ms",
        type=int,
        default=_DEFAULTS.max_lateness_ms,
        metavar="MS",
        help="how late, at most (default %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="-",
        metavar="PATH",
        help="events JSONL; a .gz suffix gzips; '-' is stdout (default)",
    )
    parser.add_argument(
        "--topic",
        help="produce to this Kafka topic (keyed by org_id) instead of writing a file",
    )
    parser.add_argument(
        "--brokers",
        default=os.environ.get("SIGNALFIRE_BROKERS", "localhost:9092"),
        help="Kafka bootstrap servers for --topic (default $SIGNALFIRE_BROKERS or %(default)s)",
    )
    parser.add_argument(
        "--eps",
        type=float,
        default=None,
        help="with --topic: events per second, wall clock (default: as fast as Kafka takes them)",
    )
    parser.add_argument(
        "--labels",
        default=None,
        metavar="PATH",
        help="ground-truth JSONL (default OUT.labels.jsonl; none for stdout)",
    )
    parser.set_defaults(func=run, progress=QUIET)


def run(args: argparse.Namespace) -> int:
    """Generate as `args` say; returns the exit code (2 for an impossible configuration)."""
    try:
        config = GeneratorConfig(
            seed=args.seed,
            events=args.events,
            rate=args.rate,
            start_ms=args.start,
            orgs=args.orgs,
            scenarios=tuple(args.scenarios),
            late_fraction=args.late_fraction,
            max_lateness_ms=args.max_lateness_ms,
        )
        plan = build_plan(config)
    except ValueError as exc:
        print(f"signalfire generate: {exc}", file=sys.stderr)
        return 2
    busiest_key = max(rate for rates in plan.key_rates for rate in rates)
    if busiest_key > KEY_CAP_EPS:
        print(
            f"signalfire generate: warning: {plan.background_eps:,.0f} events/s is more than "
            f"{config.orgs} orgs send quietly (keys at {busiest_key:.1f} requests/s, above "
            f"{KEY_CAP_EPS:g}); background may cross rule thresholds: use more --orgs",
            file=sys.stderr,
        )
    view: ProgressView = args.progress
    if args.topic:
        with view.task("producing", total=config.events) as advance:
            events = counted(plan_events(plan), advance) if view.shown else plan_events(plan)
            return _to_topic(events, args, plan.duration_ms)
    labels_path = args.labels
    if labels_path is None and args.out != "-":
        labels_path = args.out + ".labels.jsonl"
    # Both outputs are tried first: a labels path that fails after the events were written
    # would leave half a data set.
    check_writable(args.out, "--out")
    check_writable(labels_path, "--labels")
    began = time.perf_counter()
    # stdout may be the data itself: a bar there would be drawn over it
    if args.out == "-":
        view = QUIET
    try:
        with view.task("generating", total=config.events) as advance:
            events = counted(plan_events(plan), advance) if view.shown else plan_events(plan)
            written = write_jsonl(events, args.out)
    except BrokenPipeError:  # e.g. `| head`: the reader is gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("signalfire generate: output closed early", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the disk filled up
        raise write_problem(args.out, exc, "--out") from None
    elapsed = max(time.perf_counter() - began, 1e-9)
    if labels_path is not None:
        try:
            write_labels((s.label() for s in plan.scenarios), labels_path)
        except OSError as exc:
            raise write_problem(labels_path, exc, "--labels") from None
    where = "stdout" if args.out == "-" else args.out
    print(
        f"signalfire generate: {written} events ({plan.duration_ms / 60_000:.1f} min of event "
        f"time, background {plan.background_eps:,.1f} events/s, {len(plan.scenarios)} "
        f"scenarios) to {where} in {elapsed:.2f}s ({written / elapsed:,.0f} events/s)"
        + (f"; labels to {labels_path}" if labels_path else "; no labels written"),
        file=sys.stderr,
    )
    return 0


def _to_topic(events: Iterator[dict[str, Any]], args: argparse.Namespace, span_ms: int) -> int:
    from streams.produce import produce_events  # noqa: PLC0415 - Kafka client only when asked

    began = time.perf_counter()
    options: dict[str, object] = {"bootstrap_servers": args.brokers}
    sent = asyncio.run(produce_events(events, args.topic, options, rate=args.eps))
    elapsed = max(time.perf_counter() - began, 1e-9)
    print(
        f"signalfire generate: {sent} events ({span_ms / 60_000:.1f} min of event time) to "
        f"topic {args.topic} at {args.brokers} in {elapsed:.2f}s",
        file=sys.stderr,
    )
    return 0
