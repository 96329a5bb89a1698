"""Entry point: `signalfire COMMAND ...` (see `signalfire --help`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from signalfire.cli import (
    backtest_cmd,
    bridge_cmd,
    console_cmd,
    demo_cmd,
    generate_cmd,
    rules_cmd,
    worker_cmd,
)
from signalfire.cli.common import RunProblem, UsageError
from signalfire.cli.files import FileProblem
from signalfire.cli.progress import progress_view


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signalfire",
        description="Streaming alerting for trust & safety: rules over usage events.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rules_cmd.register(sub)
    backtest_cmd.register(sub)
    generate_cmd.register(sub)
    demo_cmd.register(sub)
    worker_cmd.register(sub)
    bridge_cmd.register(sub)
    console_cmd.register(sub)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """`signalfire backtest`, `signalfire rules check`, ...: what error lines start with."""
    words = ["signalfire", args.command]
    if args.command == "rules":
        words.append(args.rules_command)
    return " ".join(words)


def main(argv: Sequence[str] | None = None, *, terminal: bool | None = None) -> int:
    """Run `signalfire ARGV`; returns the exit code. `terminal` says whether progress may be
    drawn (default: when stdout and stderr are both a terminal)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.progress = progress_view(terminal)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        parser.error(str(exc))
    except (FileProblem, RunProblem) as exc:
        print(f"{command_name(args)}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
