"""`signalfire demo`: the worker on a local Kafka with generated abuse, pages shown live;
`--offline`: the same traffic through the engine without Kafka, then a scorecard against the
ground truth."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import orjson

from alerting.pager import PagerMessage, to_json
from signalfire.cli.backtest import Backtest, write_jsonl
from signalfire.cli.backtest_cmd import print_summary
from signalfire.cli.catalogue import catalogue_help, shipped_rules
from signalfire.cli.common import UsageError, load_or_report
from signalfire.cli.files import check_writable, write_problem
from signalfire.cli.progress import QUIET, ProgressView
from signalfire.generate import (
    SCENARIO_NAMES,
    GeneratorConfig,
    Plan,
    TooFewEvents,
    build_plan,
    plan_events,
)
from signalfire.scorecard import Scorecard, score, time_order
from signalfire.sources import lines_of

BATCH = 2000
COLOURS = {"critical": "31", "error": "35", "warning": "33", "info": "36"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="local Kafka + worker + generated abuse -> live pages")
    p.add_argument(
        "--rules",
        default=shipped_rules(),
        metavar="DIR",
        help=f"rules (default: {catalogue_help()})",
    )
    p.add_argument(
        "--events", type=int, default=300_000, help="events to generate (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=7, help="generator seed (default %(default)s)")
    p.add_argument(
        "--eps",
        type=float,
        default=5_000,
        help="events per second sent to Kafka (default %(default)g)",
    )
    p.add_argument("--port", type=int, default=9092, help="local Kafka port (default 9092)")
    p.add_argument(
        "--web-port",
        type=int,
        default=6066,
        help="worker metrics/health port (default %(default)s)",
    )
    p.add_argument(
        "--console-port",
        type=int,
        default=8080,
        help="the console's port; 0: no bridge, page store or console (default %(default)s)",
    )
    p.add_argument("--resolves", action="store_true", help="show resolves too")
    p.add_argument(
        "--offline", action="store_true", help="no Kafka: run the engine in-process, then score"
    )
    p.add_argument(
        "--out", metavar="ALERTS.jsonl", help="with --offline: write pager messages, in time order"
    )
    p.add_argument(
        "--scorecard", metavar="SCORE.json", help="with --offline: write the scorecard as JSON"
    )
    p.set_defaults(func=run, progress=QUIET)


def _paint(text: str, colour: str) -> str:
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\x1b[{colour}m{text}\x1b[0m"


def page_line(message: PagerMessage) -> str:
    p = message.payload
    action = message.event_action.upper()
    sev = _paint(f"{p.severity:<8}", COLOURS.get(p.severity, "0"))
    return f"{p.timestamp[11:19]}  {action:<8} {sev} {p.component:<28} {p.summary}"


def latency_text(ms: int | None) -> str:
    if ms is None:
        return "-"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(ms // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def print_scorecard(card: Scorecard) -> None:
    print(f"\n{'scenario':<25} {'rule':<29} caught  {'first page':<24}  latency")
    for c in card.catches:
        mark = _paint("yes", "32") if c.caught else _paint("NO ", "31")
        page = c.first_page or "-"
        print(
            f"{c.scenario:<25} {c.rule:<29} {mark}     {page:<24}  {latency_text(c.latency_ms):>8}"
        )
    print(f"\n{'rule':<29} scenarios  caught")
    for r in card.rules:
        if not r.expected:
            status = _paint("no scenario", "31")
        else:
            status = f"{r.caught}/{r.expected}"
            status = _paint(status, "32" if r.caught == r.expected else "31")
        print(f"{r.rule:<29} {r.expected:>9}  {status}")
    rules_caught = sum(1 for r in card.rules if r.expected and r.caught == r.expected)
    print(
        f"\n{len(card.catches) - len(card.missed)}/{len(card.catches)} expected pages raised; "
        f"{rules_caught}/{len(card.rules)} rules caught; "
        f"{len(card.unexplained)} page(s) outside the injected scenarios"
    )


def plan_of(args: argparse.Namespace) -> Plan | None:
    """The generated traffic, or None once the reason it cannot be made is printed."""
    if args.events <= 0:
        print("signalfire demo: --events must be positive", file=sys.stderr)
        return None
    try:
        return build_plan(GeneratorConfig(seed=args.seed, events=args.events))
    except TooFewEvents as exc:
        # Every scenario is injected whole: fewer events cannot hold them.
        print(
            f"signalfire demo: --events {args.events} is too few for the demo's "
            f"{len(SCENARIO_NAMES)} scenarios: use --events >= {exc.needed}",
            file=sys.stderr,
        )
        return None


def run(args: argparse.Namespace) -> int:
    if not args.offline:
        if args.out or args.scorecard:
            raise UsageError("--out and --scorecard need --offline")
        return run_live(args)
    ruleset = load_or_report([args.rules])
    if ruleset is None:
        return 1
    check_writable(args.out, "--out")
    check_writable(args.scorecard, "--scorecard")
    plan = plan_of(args)
    if plan is None:
        return 2
    print(
        f"signalfire demo: {args.events:,} generated events (seed {args.seed}), "
        f"{len(ruleset.rules)} rules from {args.rules}\n"
    )
    bt = Backtest(ruleset.rules)
    events = plan_events(plan)
    view: ProgressView = args.progress
    with view.task("demo", total=args.events) as advance:
        for lines in lines_of(events, BATCH):
            advance(len(lines))
            for m in bt.feed(lines):
                if args.resolves or m.event_action == "trigger":
                    print(page_line(m), flush=True)
    result = bt.finish()
    print()
    print_summary(result)
    pages = [to_json(m) for m in result.messages]  # the scorecard reads pages as JSON
    card = score([s.label() for s in plan.scenarios], pages, [r.id for r in ruleset.rules])
    print_scorecard(card)
    if args.out:
        try:
            in_order = sorted(result.messages, key=lambda m: time_order(to_json(m)))
            written = write_jsonl(args.out, in_order)
        except OSError as exc:
            raise write_problem(args.out, exc, "--out") from None
        print(f"wrote {written} message(s) to {args.out}")
    if args.scorecard:
        try:
            with open(args.scorecard, "wb") as fh:
                fh.write(orjson.dumps(card.to_json(), option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise write_problem(args.scorecard, exc, "--scorecard") from None
        print(f"wrote the scorecard to {args.scorecard}")
    return 0


def run_live(args: argparse.Namespace) -> int:
    from streams.demo import DemoOptions, kafka, run_demo  # noqa: PLC0415 - Kafka only here

    if load_or_report([args.rules]) is None:
        return 1
    if plan_of(args) is None:  # before Kafka starts
        return 2
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # topics appear as the worker starts
    opts = DemoOptions(
        events=args.events, seed=args.seed, eps=args.eps, port=args.port,
        web_port=args.web_port, rules=args.rules, show_resolves=args.resolves,
        console_port=args.console_port or None,
        # At a terminal the console stays up after the traffic, for a look at the pages.
        hold=sys.stdin.isatty(),
    )  # fmt: skip

    def show(message: PagerMessage) -> None:
        if args.resolves or message.event_action == "trigger":
            print(page_line(message), flush=True)

    kafka("up", opts.port)
    try:
        return asyncio.run(run_demo(opts, show))
    finally:
        kafka("down", opts.port)
