"""`signalfire backtest --rules DIR EVENTS... [--out ALERTS.jsonl] [--diff OTHER_DIR]
[--redact FIELDS]`."""

from __future__ import annotations

import argparse
import sys

from signalfire.backtest import BacktestResult, page_diff, run_backtest, run_pair, write_jsonl
from signalfire.cli.common import (
    add_redact_option,
    load_or_report,
    redaction_from,
    settings_from,
    table,
)
from signalfire.engine.settings import DEFAULT_MAX_GROUPS
from signalfire.sources import ReadStats, read_batches


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backtest", help="run the detectors over JSONL(.gz) event files")
    p.add_argument("events", nargs="+", metavar="EVENTS", help="JSONL or JSONL.gz files")
    p.add_argument("--rules", required=True, action="append", metavar="DIR")
    p.add_argument("--out", metavar="ALERTS.jsonl", help="write pager messages here")
    p.add_argument(
        "--diff", metavar="OTHER_RULES_DIR", help="pages a change to these would add/remove"
    )
    p.add_argument("--lateness", default="30s", help="allowed lateness (default 30s)")
    p.add_argument("--max-groups", type=int, default=DEFAULT_MAX_GROUPS, help="per-rule group cap")
    add_redact_option(p)
    p.set_defaults(func=run)


def print_summary(result: BacktestResult, title: str = "") -> None:
    if title:
        print(title)
    rows = [
        (
            s.rule_id,
            s.kind,
            s.matches,
            s.peak_groups,
            s.triggers,
            s.resolves,
            s.suppressed,
            s.late,
            s.cap_evictions,
        )
        for s in result.summaries
    ]
    print(
        table(
            (
                "rule",
                "type",
                "matches",
                "groups",
                "triggers",
                "resolves",
                "suppressed",
                "late",
                "evicted",
            ),
            rows,
        )
    )
    print(f"{result.events} events, {result.late} late, {len(result.messages)} pager messages")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args.lateness, args.max_groups)
    redaction = redaction_from(args.redact)
    ruleset = load_or_report(args.rules)
    if ruleset is None:
        return 1
    stats = ReadStats()
    batches = read_batches(args.events, stats)
    if args.diff:
        other = load_or_report([args.diff])
        if other is None:
            return 1
        result, changed = run_pair(ruleset.rules, other.rules, batches, settings, redaction)
    else:
        result = run_backtest(ruleset.rules, batches, settings, redaction)
    print_summary(result)
    if stats.rejected:
        print(f"{stats.rejected} line(s) rejected, e.g.:", file=sys.stderr)
        for line in stats.first_errors:
            print(f"  {line}", file=sys.stderr)
    if args.out:
        write_jsonl(args.out, result.messages)
        print(f"wrote {len(result.messages)} message(s) to {args.out}")
    if args.diff:
        print()
        print_summary(changed, f"with rules from {args.diff}:")
        added, removed = page_diff(result, changed)
        print(f"\nwould-have-paged diff: {len(added)} added, {len(removed)} removed")
        for sign, msgs in (("+", added), ("-", removed)):
            for m in msgs:
                p = m["payload"]
                print(f"{sign} {p['timestamp']} {p['component']} {p['group']}  {p['summary']}")
    return 0
