"""`signalfire COMMAND --help` explains every option and states its default."""

import argparse
from collections.abc import Iterator

from signalfire.cli.main import build_parser

NOT_OPTIONS = (argparse._HelpAction, argparse._SubParsersAction)
FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction)


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from every_parser(sub)


def has_default(action: argparse.Action) -> bool:
    # a flag's default is its absence; an appended option's empty list is "none given"
    empty = action.default is None or action.default == [] or action.default is argparse.SUPPRESS
    return not isinstance(action, FLAGS) and not empty


def help_problems(parser: argparse.ArgumentParser) -> list[str]:
    problems = []
    for p in every_parser(parser):
        formatter = p._get_formatter()
        for action in p._actions:
            if isinstance(action, NOT_OPTIONS):
                continue
            name = f"{p.prog} {'/'.join(action.option_strings) or action.metavar or action.dest}"
            if not action.help or action.help is argparse.SUPPRESS:
                problems.append(f"{name}: no help")
            elif has_default(action) and "default" not in formatter._expand_help(action):
                problems.append(f"{name}: help does not state the default {action.default!r}")
    return problems


def test_every_option_of_every_command_has_help_stating_its_default():
    assert help_problems(build_parser()) == []


def test_the_walk_finds_an_option_without_help_or_default():
    parser = argparse.ArgumentParser(prog="x")
    sub = parser.add_subparsers().add_parser("y")
    sub.add_argument("--bare")
    sub.add_argument("--count", type=int, default=3, help="how many")
    sub.add_argument("--fine", default="a", help="which (default %(default)s)")
    sub.add_argument("--on", action="store_true", help="switch on")
    assert help_problems(parser) == [
        "x y --bare: no help",
        "x y --count: help does not state the default 3",
    ]


def test_backtest_help_shows_rules_and_defaults():
    (backtest,) = (p for p in every_parser(build_parser()) if p.prog == "signalfire backtest")
    help_text = backtest.format_help()
    assert "--rules DIR" in help_text and "rule directories or files" in help_text
    assert "(default 30s)" in help_text and "(default 100000)" in help_text
