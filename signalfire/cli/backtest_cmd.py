"""`signalfire backtest --rules DIR (EVENTS... | --from-kafka TOPIC --since TIME --until TIME)
[--out ALERTS.jsonl] [--incidents INCIDENTS.jsonl] [--incident-window DURATION]
[--diff OTHER_DIR] [--redact FIELDS]`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from alerting.pager import Payload
from signalfire.cli.backtest import (
    BacktestResult,
    run_backtest,
    run_pair,
    write_incidents,
    write_jsonl,
)
from signalfire.cli.common import (
    RunProblem,
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
from signalfire.cli.replay_args import add_replay_options, kafka_settings, replay_span
from signalfire.durations import DurationError, format_duration_ms, parse_duration_ms
from signalfire.engine.settings import DEFAULT_MAX_GROUPS
from signalfire.sources import STDIN, Lines, ReadStats, SourceError, read_batches
from streams.replay import Replay, ReplayError

SHADOW_MARK = "[shadow]"  # a shadow rule's row and pages: they go to the shadow topic only


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backtest",
        help="run the detectors over JSONL(.gz) event files or a span of a Kafka topic",
        # Else `--sasl-password SECRET` would pass as `--sasl-password-file SECRET`.
        allow_abbrev=False,
    )
    p.add_argument(
        "events", nargs="*", metavar="EVENTS", help="JSONL or JSONL.gz files, in order; - is stdin"
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
        "--incidents",
        metavar="INCIDENTS.jsonl",
        help="write the incidents the live pages make here, one per line, in order of opening",
    )
    p.add_argument(
        "--incident-window",
        default="30m",
        metavar="DURATION",
        help="pages of one root entity this close to an open incident's latest trigger join it "
        "(default 30m)",
    )
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
    add_replay_options(p)
    p.set_defaults(func=run, progress=QUIET)


def print_summary(result: BacktestResult, title: str = "") -> None:
    if title:
        print(title)
    rows = [
        (
            f"{s.rule_id} {SHADOW_MARK}" if s.shadow else s.rule_id,
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
    shadow = sum(m.payload.custom_details.rule.shadow for m in result.messages)
    of_them = f", {shadow} of them shadow (never to on-call)" if shadow else ""
    print(
        f"{result.events} events, {result.late} late, {len(result.messages)} pager messages"
        + of_them
    )
    inc = result.incidents
    print(
        f"incidents: {inc.pages} pages -> {len(inc.incidents)} incidents ({inc.absorbed} "
        f"absorbed, window {format_duration_ms(inc.window_ms)})"
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args.lateness, args.max_groups)
    window_ms = _incident_window(args.incident_window)
    redaction = redaction_from(args.redact)
    _check_source(args)
    ruleset = load_or_report(args.rules)
    if ruleset is None:
        return 1
    other = load_or_report([args.diff]) if args.diff else None
    if args.diff and other is None:
        return 1
    # Inputs are tried before the run, so that a typo costs a line, not a traceback or an hour.
    if args.from_kafka is None:
        check_events_readable(args.events)
    check_writable(args.out, "--out")
    check_writable(args.incidents, "--incidents")
    stats = ReadStats()
    view: ProgressView = args.progress
    with _source(args) as (what, total, source), view.task(what, total) as advance:
        batches = counted_batches(source, advance)
        if other is not None:
            result, changed = run_pair(
                ruleset.rules,
                other.rules,
                batches,
                settings=settings,
                redaction=redaction,
                stats=stats,
                incident_window_ms=window_ms,
            )
        else:
            result = run_backtest(
                ruleset.rules,
                batches,
                settings=settings,
                redaction=redaction,
                stats=stats,
                incident_window_ms=window_ms,
            )
    print_summary(result)
    unit = "line(s)" if args.from_kafka is None else "record(s)"
    if stats.rejected:
        print(f"{stats.rejected} {unit} rejected, e.g.:", file=sys.stderr)
        for line in stats.first_errors:
            print(f"  {line}", file=sys.stderr)
    if args.out:
        try:
            write_jsonl(args.out, result.messages)
        except OSError as exc:
            raise write_problem(args.out, exc, "--out") from None
        print(f"wrote {len(result.messages)} message(s) to {args.out}")
    if args.incidents:
        try:
            written = write_incidents(args.incidents, result.incidents.incidents)
        except OSError as exc:
            raise write_problem(args.incidents, exc, "--incidents") from None
        print(f"wrote {written} incident(s) to {args.incidents}")
    if other is not None:
        print()
        print_summary(changed, f"with rules from {args.diff}:")
        print()
        print_diff(page_diff(result, changed))
    if stats.rejected and not stats.events:
        print(
            f"signalfire backtest: no valid events: every {unit[:-3]} was rejected", file=sys.stderr
        )
        return 1
    return 0


def _incident_window(text: str) -> int:
    try:
        return parse_duration_ms(text)
    except DurationError as exc:
        raise UsageError(f"--incident-window: {exc}") from None


def _check_source(args: argparse.Namespace) -> None:
    if args.from_kafka is None:
        if not args.events:
            raise UsageError("give EVENTS files, or --from-kafka TOPIC --since TIME --until TIME")
        if args.since is not None or args.until is not None:
            raise UsageError("--since and --until go with --from-kafka")
        if args.events.count(STDIN) > 1:
            raise UsageError(f"'{STDIN}' (stdin) can be given once")
    elif args.events:
        raise UsageError("EVENTS files and --from-kafka TOPIC: give one or the other")


@contextmanager
def _source(args: argparse.Namespace) -> Iterator[tuple[str, int | None, Iterator[Lines]]]:
    """What the run reads, its size when known, and its batches; a source that fails is a
    one-line problem (exit 2), never a traceback."""
    if args.from_kafka is None:
        try:
            yield "backtest", None, read_batches(args.events)
        except SourceError as exc:  # damaged past its start: a truncated or corrupt gzip
            raise read_problem(exc.path, exc.cause) from None
        return
    # The span is fixed before any connection: `now` is when the command started.
    span = replay_span(args, int(time.time() * 1000))
    replay = Replay(kafka_settings(args), span)
    try:
        total = replay.open()
        yield f"replay {span.topic}", total, replay.batches()
    except ReplayError as exc:
        raise RunProblem(str(exc)) from None
    finally:
        replay.close()


def print_diff(diff: PageDiff) -> None:
    """Counts, then `+` added, `-` removed and `~` moved pages, each in (rule, group, time)
    order; a moved page shows its old and new time and the shift."""
    print(
        f"would-have-paged diff: {len(diff.added)} added, {len(diff.removed)} removed, "
        f"{len(diff.moved)} moved, {diff.unchanged} unchanged"
    )
    for sign, episodes in (("+", diff.added), ("-", diff.removed)):
        for episode in episodes:
            p = episode.page.payload
            print(f"{sign} {p.timestamp} {_rule(p)} {p.group}  {p.summary}")
    for moved in diff.moved:
        p, was = moved.new.page.payload, moved.old.page.payload.timestamp
        shift = ("+" if moved.shift_ms > 0 else "-") + _span(abs(moved.shift_ms))
        print(f"~ {was} -> {p.timestamp} ({shift}) {_rule(p)} {p.group}  {p.summary}")


def _rule(p: Payload) -> str:
    return f"{p.component} {SHADOW_MARK}" if p.custom_details.rule.shadow else p.component


def _span(ms: int) -> str:
    # Shifts are often fractions of a second: 3.596s reads better than 3596ms.
    return format_duration_ms(ms) if ms % 1000 == 0 else f"{ms / 1000:g}s"
