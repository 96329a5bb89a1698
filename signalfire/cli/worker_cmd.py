"""`signalfire worker`: the long-lived Kafka worker (flags or SIGNALFIRE_* variables)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from signalfire.cli.common import load_or_report
from streams.config import SETTINGS, load_config
from streams.settings import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="consume usage events from Kafka, run the rules, produce pages",
        description="Every option can also be set as SIGNALFIRE_<NAME> (e.g. SIGNALFIRE_BROKERS).",
        # Else `--sasl-password SECRET` would pass as `--sasl-password-file SECRET`.
        allow_abbrev=False,
    )
    for s in SETTINGS:
        if s.secret:
            continue  # secrets only from the environment or a file
        p.add_argument(s.flag, dest=s.name, default=None, help=f"{s.help} (default {s.default!r})"
                       if s.default else s.help)  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    try:
        config = load_config(flags)
    except ConfigError as exc:
        print(f"signalfire worker: {exc}", file=sys.stderr)
        return 2
    ruleset = load_or_report([config.rules])
    if ruleset is None:
        return 1
    from streams.app import run_worker  # noqa: PLC0415 - Faust is heavy: only for the worker
    from streams.connect import BrokerAccessError, check_brokers  # noqa: PLC0415

    # Faust would report a wrong password or an untrusted certificate as a bare traceback.
    try:
        asyncio.run(check_brokers(config.kafka))
    except BrokerAccessError as exc:
        print(f"signalfire worker: {exc}", file=sys.stderr)
        return 1
    run_worker(config, list(ruleset.rules))
