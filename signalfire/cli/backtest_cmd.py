"""`signalfire backtest --rules DIR EVENTS... [--out ALERTS.jsonl] [--diff OTHER_DIR]
[--redact FIELDS]`."""

from __future__ import annotations

import argparse
import sys

from signalfire.cli.backtest import BacktestResult, run_backtest, run_pair, write_jsonl
from signalfire.cli.common import (
    UsageError,
    add_redact_option,
    load_or_report,
    redaction_from,
    settings_from,
    table,
)
from signalfire.cli.files import (
    check_events_readable,
    check_writable,
    read_problem,
    write_problem,
)
from signalfire.cli.pagediff import PageDiff, page_diff
from signalfire.cli.progress import QUIET, ProgressView, counted_batches
from signalfire.durations import format_duration_ms
from signalfire.engine.settings import DEFAULT_MAX_GROUPS
from signalfire.sources import STDIN, ReadStats, SourceError, read_batches


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backtest", help="run the detectors over JSONL(.gz) event files")
    p.add_argument(
        "events", nargs="+", metavar="EVENTS", help="JSONL or JSONL.gz files, in order; - is stdin"
    )
    p.add_argument(
        "--rules",
        required=True,
        action="append",
        metavar="DIR",
        help="rule directories or files (required; may be repeated)",
    )
    p.add_argument("--out", metavar="ALERTS.jsonl", help="write pager messages here")
    p.add_argument(
        "--diff",
        metavar="OTHER_RULES_DIR",
        help="pages a change to these would add, remove or move (matched by incident)",
    )
    p.add_argument("--lateness", default="30s", help="allowed lateness (default 30s)")
    p.add_argument(
        "--max-groups",
        type=int,
        default=DEFAULT_MAX_GROUPS,
        help="per-rule group cap (default %(default)s)",
    )
    add_redact_option(p)
    p.set_defaults(func=run, progress=QUIET)


def print_summary(result: BacktestResult, title: str = "") -> None:
    if title:
        print(title)
    rows = [
        (
            s.rule_id,
            s.kind,
            s.counts.matches,
            s.peak_groups,
            s.counts.triggers,
            s.counts.resolves,
            s.counts.suppressed,
            s.counts.late,
            s.counts.cap_evictions,
            s.counts.partials_dropped,
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
                "dropped",
            ),
            rows,
        )
    )
    print(f"{result.events} events, {result.late} late, {len(result.messages)} pager messages")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args.lateness, args.max_groups)
    redaction = redaction_from(args.redact)
    if args.events.count(STDIN) > 1:
        raise UsageError(f"'{STDIN}' (stdin) can be given once")
    ruleset = load_or_report(args.rules)
    if ruleset is None:
        return 1
    other = load_or_report([args.diff]) if args.diff else None
    if args.diff and other is None:
        return 1
    # Files are tried before the run, so that a typo costs a line, not a traceback or an hour.
    check_events_readable(args.events)
    check_writable(args.out, "--out")
    stats = ReadStats()
    view: ProgressView = args.progress
    try:
        with view.task("backtest") as advance:
            batches = counted_batches(read_batches(args.events), advance)
            if other is not None:
                result, changed = run_pair(
                    ruleset.rules,
                    other.rules,
                    batches,
                    settings=settings,
                    redaction=redaction,
                    stats=stats,
                )
            else:
                result = run_backtest(
                    ruleset.rules, batches, settings=settings, redaction=redaction, stats=stats
                )
    except SourceError as exc:  # damaged past its start: a truncated or corrupt gzip
        raise read_problem(exc.path, exc.cause) from None
    print_summary(result)
    if stats.rejected:
        print(f"{stats.rejected} line(s) rejected, e.g.:", file=sys.stderr)
        for line in stats.first_errors:
            print(f"  {line}", file=sys.stderr)
    if args.out:
        try:
            write_jsonl(args.out, result.messages)
        except OSError as exc:
            raise write_problem(args.out, exc, "--out") from None
        print(f"wrote {len(result.messages)} message(s) to {args.out}")
    if other is not None:
        print()
        print_summary(changed, f"with rules from {args.diff}:")
        print()
        print_diff(page_diff(result, changed))
    if stats.rejected and not stats.events:
        print("signalfire backtest: no valid events: every line was rejected", file=sys.stderr)
        return 1
    return 0


def print_diff(diff: PageDiff) -> None:
    """Counts, then `+` added, `-` removed and `~` moved pages, each in (rule, group, time)
    order; a moved page shows its old and new time and the shift."""
    print(
        f"would-have-paged diff: {len(diff.added)} added, {len(diff.removed)} removed, "
        f"{len(diff.moved)} moved, {diff.unchanged} unchanged"
    )
    for sign, incidents in (("+", diff.added), ("-", diff.removed)):
        for incident in incidents:
            p = incident.page.payload
            print(f"{sign} {p.timestamp} {p.component} {p.group}  {p.summary}")
    for moved in diff.moved:
        p, was = moved.new.page.payload, moved.old.page.payload.timestamp
        shift = ("+" if moved.shift_ms > 0 else "-") + _span(abs(moved.shift_ms))
        print(f"~ {was} -> {p.timestamp} ({shift}) {p.component} {p.group}  {p.summary}")


def _span(ms: int) -> str:
    # Shifts are often fractions of a second: 3.596s reads better than 3596ms.
    return format_duration_ms(ms) if ms % 1000 == 0 else f"{ms / 1000:g}s"
