"""`signalfire bridge`: forward pages from the pager topic to Alertmanager, PagerDuty, webhooks."""

from __future__ import annotations

import argparse
import asyncio
import sys

from streams.bridge_settings import BRIDGE_SETTINGS, load_bridge_settings
from streams.settings import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bridge",
        help="forward pages from the pager topic to Alertmanager, PagerDuty and webhooks",
        description="Every option can also be set as SIGNALFIRE_<NAME> (e.g. SIGNALFIRE_BROKERS);"
        " sinks and routes come from the --config YAML file (see docs/operations.md).",
        allow_abbrev=False,  # `--sasl-password X` must not pass for `--sasl-password-file X`
    )
    for s in BRIDGE_SETTINGS:
        if s.secret:
            continue  # secrets only from the environment or a file
        flags = ["--config", s.flag] if s.name == "bridge_config" else [s.flag]
        help_text = f"{s.help} (default {s.default!r})" if s.default else s.help
        p.add_argument(*flags, dest=s.name, default=None, help=help_text)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alerting.bridge_config import BridgeConfigError, load_bridge_config  # noqa: PLC0415
    from alerting.store import SchemaTooNew  # noqa: PLC0415

    flags = {s.name: getattr(args, s.name, None) for s in BRIDGE_SETTINGS}
    try:
        settings = load_bridge_settings(flags)
    except ConfigError as exc:
        print(f"signalfire bridge: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_bridge_config(settings.config_path)
    except BridgeConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in the bridge config", file=sys.stderr)
        return 2
    from streams.bridge_app import run_bridge  # noqa: PLC0415 - aiohttp/aiokafka: only here
    from streams.connect import BrokerAccessError, check_brokers  # noqa: PLC0415

    try:
        asyncio.run(check_brokers(settings.kafka))
    except BrokerAccessError as exc:
        print(f"signalfire bridge: {exc}", file=sys.stderr)
        return 1
    try:
        return run_bridge(settings, config)
    except SchemaTooNew as exc:  # a store sink's database: upgrading the bridge is the fix
        print(f"signalfire bridge: {exc}", file=sys.stderr)
        return 1
