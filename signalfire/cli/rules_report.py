"""`signalfire rules report --store URL --since TIME --until TIME [--json]`: how each rule's
pages were judged, from the page store (the table the console exports as metrics)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from alerting.quality import (
    Cell,
    RuleQuality,
    ShadowProjection,
    Timing,
    quality_table,
    shadow_table,
)
from alerting.store import StoreError, StoreUrlError, open_store, parse_store_url
from alerting.store.url import MEMORY
from signalfire.cli.common import RunProblem, table
from signalfire.cli.replay_args import TIME_HELP, parse_time_ms
from signalfire.durations import DurationError
from signalfire.timestamps import iso_ms

STORE_ENV = "SIGNALFIRE_STORE_URL"
CONNECT_TIMEOUT_S = 10.0


def add_report_parser(rsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = rsub.add_parser(
        "report",
        help="per rule: pages, verdicts, precision, time to acknowledge and to verdict",
        description="Episodes whose start falls in [--since, --until), from the page store. "
        "precision = confirmed_abuse / (confirmed_abuse + false_positive + benign), by each "
        "episode's latest verdict; times run from when the page reached the store to its "
        "acknowledgement and to its first verdict, p50/p90 nearest-rank. Shadow rules come "
        "apart: their pages per day and a precision projected from the judged pages they "
        'overlap on an entity (docs/operations.md, "Detection quality"). A time that starts '
        "with - takes an =: --since=-7d.",
    )
    report.add_argument(
        "--store",
        metavar="URL",
        help=f"page store: sqlite:///path or postgresql://... (default: ${STORE_ENV}; a URL "
        "with a password belongs in that variable, not on a command line)",
    )
    since_help = f"first episode start, inclusive (default -30d): {TIME_HELP}"
    report.add_argument("--since", metavar="TIME", default="-30d", help=since_help)
    until_help = f"end, exclusive (default now): {TIME_HELP}"
    report.add_argument("--until", metavar="TIME", default="now", help=until_help)
    report.add_argument("--json", action="store_true", help="print the table as one JSON object")
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    now_ms = int(time.time() * 1000)
    since, until = (_time(args, name, now_ms) for name in ("since", "until"))
    if since > until:
        raise RunProblem(f"--since ({args.since}) is after --until ({args.until})")
    url = args.store or os.environ.get(STORE_ENV, "")
    if not url:
        raise RunProblem(f"give the page store: --store URL or ${STORE_ENV}")
    rules, shadow = _read(url, since, until)
    if args.json:
        body = report_json(rules, since, until)
        body["shadow"] = [_shadow_json(p) for p in shadow]
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
    else:
        print(f"episodes started from {iso_ms(since)} to {iso_ms(until)}")
        print(report_text(rules))
        if shadow:
            print("\nshadow rules (their pages reached no one), projected:")
            print(shadow_text(shadow))
    return 0


def _time(args: argparse.Namespace, name: str, now_ms: int) -> int:
    value = getattr(args, name)
    try:
        return parse_time_ms(value, now_ms)
    except (DurationError, ValueError) as exc:
        raise RunProblem(f"--{name}: bad time {value!r}: {exc} ({TIME_HELP})") from None


def _read(
    url: str, since: int, until: int
) -> tuple[tuple[RuleQuality, ...], tuple[ShadowProjection, ...]]:
    try:
        parsed = parse_store_url(url, Path.cwd())
    except StoreUrlError as exc:
        raise RunProblem(str(exc)) from None
    if parsed.dialect == "sqlite" and parsed.target != MEMORY and not Path(parsed.target).is_file():
        # Opening would make an empty database: a mistyped path must not read as "no pages".
        raise RunProblem(f"no page store at {parsed.target}")
    try:
        store = open_store(parsed, connect_timeout_s=CONNECT_TIMEOUT_S)
        try:
            rules = quality_table(store.triage_facts(since, until))
            shadow = store.entity_episodes(since, until, shadow=True)
            judged = store.entity_episodes(since, until, shadow=False) if shadow else []
            return rules, shadow_table(shadow, judged, since, until)
        finally:
            store.close()
    except StoreError as exc:
        # A driver's message may run over lines (libpq's hints): the problem is one line.
        raise RunProblem(" ".join(str(exc).split())) from None


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the text table: a `mode` column (shadow rules) is one more of these."""

    header: str
    value: Callable[[str, Cell], object]  # (rule id, cell) -> what the column shows


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def _precision(p: float | None) -> str:
    return "-" if p is None else f"{p:.2f}"


COLUMNS: tuple[Column, ...] = (
    Column("rule", lambda rule, c: rule),
    Column("severity", lambda rule, c: c.severity),
    Column("pages", lambda rule, c: c.pages),
    Column("acked", lambda rule, c: c.acknowledged),
    Column("confirmed", lambda rule, c: c.verdicts["confirmed_abuse"]),
    Column("false_pos", lambda rule, c: c.verdicts["false_positive"]),
    Column("benign", lambda rule, c: c.verdicts["benign"]),
    Column("duplicate", lambda rule, c: c.verdicts["duplicate"]),
    Column("unreviewed", lambda rule, c: c.unreviewed),
    Column("precision", lambda rule, c: _precision(c.precision)),
    Column("tta_p50", lambda rule, c: _duration(c.time_to_ack.p50)),
    Column("tta_p90", lambda rule, c: _duration(c.time_to_ack.p90)),
    Column("ttv_p50", lambda rule, c: _duration(c.time_to_verdict.p50)),
    Column("ttv_p90", lambda rule, c: _duration(c.time_to_verdict.p90)),
)


def report_rows(rules: tuple[RuleQuality, ...]) -> list[tuple[str, Cell]]:
    """A row per rule and severity, and the rule's total (`all`) when it paged at several."""
    rows: list[tuple[str, Cell]] = []
    for r in rules:
        rows.extend((r.rule, cell) for cell in r.by_severity)
        if len(r.by_severity) > 1:
            rows.append((r.rule, r.total))
    return rows


def report_text(rules: tuple[RuleQuality, ...], columns: tuple[Column, ...] = COLUMNS) -> str:
    if not rules:
        return "no episodes in this range"
    body = [[c.value(rule, cell) for c in columns] for rule, cell in report_rows(rules)]
    return table([c.header for c in columns], body)


def _timing_json(t: Timing) -> dict[str, Any]:
    return {"count": t.count, "p50": t.p50, "p90": t.p90}


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {
        "severity": cell.severity,
        "pages": cell.pages,
        "acknowledged": cell.acknowledged,
        "unreviewed": cell.unreviewed,
        "verdicts": dict(cell.verdicts),
        "precision": cell.precision,
        "time_to_ack_s": _timing_json(cell.time_to_ack),
        "time_to_verdict_s": _timing_json(cell.time_to_verdict),
    }


def report_json(rules: tuple[RuleQuality, ...], since: int, until: int) -> dict[str, Any]:
    return {
        "since": iso_ms(since),
        "until": iso_ms(until),
        "rules": [
            {
                "rule": r.rule,
                "total": _cell_json(r.total),
                "severities": [_cell_json(c) for c in r.by_severity],
            }
            for r in rules
        ],
    }


SHADOW_COLUMNS: tuple[tuple[str, Callable[[ShadowProjection], object]], ...] = (
    ("rule", lambda p: p.rule),
    ("pages", lambda p: p.pages),
    ("per_day", lambda p: f"{p.pages_per_day:.1f}"),
    ("overlap_judged", lambda p: p.overlapped),
    ("confirmed", lambda p: p.verdicts["confirmed_abuse"]),
    ("false_pos", lambda p: p.verdicts["false_positive"]),
    ("benign", lambda p: p.verdicts["benign"]),
    ("projected_precision", lambda p: _precision(p.projected_precision)),
)


def shadow_text(shadow: tuple[ShadowProjection, ...]) -> str:
    body = [[value(p) for _, value in SHADOW_COLUMNS] for p in shadow]
    return table([header for header, _ in SHADOW_COLUMNS], body)


def _shadow_json(p: ShadowProjection) -> dict[str, Any]:
    return {
        "rule": p.rule,
        "pages": p.pages,
        "pages_per_day": p.pages_per_day,
        "overlapped": p.overlapped,
        "verdicts": {k: v for k, v in p.verdicts.items() if k != "duplicate"},
        "projected_precision": p.projected_precision,
    }
