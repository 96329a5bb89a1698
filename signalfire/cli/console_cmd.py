"""`signalfire console`: the investigators' web console, and the hashes its config holds."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from streams.console_settings import CONSOLE_SETTINGS, load_console_settings
from streams.settings import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "console",
        help="the investigators' web console: pages, entities, verdicts, snoozes, audit log",
        description="`serve` runs the console; `hash-password` and `new-token` make the hashes"
        " its config file holds (see docs/triage.md).",
    )
    actions = p.add_subparsers(dest="console_action", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve",
        help="run the console",
        description="Every option can also be set as SIGNALFIRE_<NAME> (e.g. SIGNALFIRE_BROKERS);"
        " users, the page store and the address come from the --config YAML file.",
        allow_abbrev=False,
    )
    for s in CONSOLE_SETTINGS:
        if s.secret:
            continue  # secrets only from the environment or a file
        flags = ["--config", s.flag] if s.name == "console_config" else [s.flag]
        help_text = f"{s.help} (default {s.default!r})" if s.default else s.help
        serve.add_argument(*flags, dest=s.name, default=None, help=help_text)
    serve.set_defaults(func=run)
    hasher = actions.add_parser(
        "hash-password",
        help="read a password (twice, not echoed) and print its hash for `password_hash`",
    )
    hasher.set_defaults(func=hash_password_cmd)
    token = actions.add_parser(
        "new-token", help="print a new token (give it to its user) and its `token_hash`"
    )
    token.set_defaults(func=new_token_cmd)


def run(args: argparse.Namespace) -> int:
    from alerting.console.config import ConsoleConfigError, load_console_config  # noqa: PLC0415

    flags = {s.name: getattr(args, s.name, None) for s in CONSOLE_SETTINGS}
    try:
        settings = load_console_settings(flags)
    except ConfigError as exc:
        print(f"signalfire console: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_console_config(settings.config_path)
    except ConsoleConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in the console config", file=sys.stderr)
        return 2
    from alerting.store import StoreError, StoreUrlError  # noqa: PLC0415
    from streams.connect import BrokerAccessError, check_brokers  # noqa: PLC0415
    from streams.console_app import serve  # noqa: PLC0415 - aiohttp/aiokafka: only here

    try:
        asyncio.run(check_brokers(settings.kafka))
        asyncio.run(serve(settings, config))
    except (BrokerAccessError, StoreError, StoreUrlError) as exc:
        print(f"signalfire console: {exc}", file=sys.stderr)
        return 1
    return 0


def hash_password_cmd(args: argparse.Namespace) -> int:
    from alerting.console.auth import hash_password  # noqa: PLC0415

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            print("signalfire console: the passwords differ", file=sys.stderr)
            return 2
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("signalfire console: a password has at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(first))
    return 0


def new_token_cmd(args: argparse.Namespace) -> int:
    from alerting.console.auth import hash_token, new_token  # noqa: PLC0415

    token = new_token()
    print(f"token:      {token}")
    print(f"token_hash: {hash_token(token)}")
    return 0
