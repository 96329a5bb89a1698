"""Helpers shared by the subcommands: loading rules with errors printed, redaction, tables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from alerting.redact import Redaction, parse_fields
from signalfire.cli.files import check_rules_readable
from signalfire.durations import DurationError, parse_duration_ms
from signalfire.engine import EngineSettings
from signalfire.rules import RuleSet, RuleSetError, load_rules


class UsageError(Exception):
    """Bad command-line input: printed as `signalfire: error: ...`, exit 2."""


class RunProblem(Exception):
    """The command cannot run as asked (a broker it cannot reach, a topic that does not exist,
    a span that ends before it starts): one line on stderr, `signalfire COMMAND: why`, exit 2."""


def load_or_report(paths: Sequence[str]) -> RuleSet | None:
    """The rules under `paths`, or None once their problems are printed (exit 1). A path that
    cannot be read at all raises FileProblem (exit 2)."""
    check_rules_readable(paths)
    try:
        return load_rules(paths)
    except RuleSetError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in rules", file=sys.stderr)
        return None


def add_redact_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="FIELDS",
        help="fields whose values never appear in pages, comma separated (ip,attrs.*), as the "
        "worker's --redact; secret and prompt fields always are",
    )


def redaction_from(values: list[str]) -> Redaction:
    return Redaction.of(f for value in values for f in parse_fields(value))


def settings_from(lateness: str, max_groups: int) -> EngineSettings:
    try:
        lateness_ms = parse_duration_ms(lateness)
    except DurationError as exc:
        raise UsageError(f"--lateness: {exc}") from None
    if max_groups < 1:
        raise UsageError("--max-groups: must be at least 1")
    return EngineSettings(allowed_lateness_ms=lateness_ms, max_groups=max_groups)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: the first two columns left-aligned, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = (
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])
