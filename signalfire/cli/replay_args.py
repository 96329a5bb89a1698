"""`signalfire backtest --from-kafka TOPIC --since TIME --until TIME`: the options, the times
and the worker's Kafka settings (the same flags and `SIGNALFIRE_*` variables as `worker`)."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping

from signalfire.cli.common import RunProblem
from signalfire.durations import DurationError, parse_duration_ms
from signalfire.timestamps import parse_iso_ms
from streams.kafka_config import BROKERS, SECURITY_SETTINGS, KafkaSettings, load_kafka
from streams.replay import Span
from streams.settings import ConfigError, SettingValues

KAFKA_SETTINGS = (BROKERS, *SECURITY_SETTINGS)
_RELATIVE = re.compile(r"^(?:now)?\s*-\s*(.+)$")
TIME_HELP = (
    "RFC 3339 (2026-12-01T08:00:00Z), epoch milliseconds, now, or a time before now (now-2h or -2h)"
)


def add_replay_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "replay from Kafka",
        "read a span of a topic instead of files; Kafka settings as the worker's, also as "
        "SIGNALFIRE_<NAME> (e.g. SIGNALFIRE_BROKERS, SIGNALFIRE_SASL_PASSWORD)",
    )
    group.add_argument("--from-kafka", metavar="TOPIC", help="topic to read the events from")
    group.add_argument("--since", metavar="TIME", help=f"first record time, inclusive: {TIME_HELP}")
    group.add_argument("--until", metavar="TIME", help=f"last record time, inclusive: {TIME_HELP}")
    for s in KAFKA_SETTINGS:
        if s.secret:
            continue  # secrets only from the environment or a file
        group.add_argument(s.flag, dest=s.name, default=None, help=s.help)


def parse_time_ms(text: str, now_ms: int) -> int:
    """Epoch milliseconds of a --since/--until value; DurationError or ValueError if bad."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text == "now":
        return now_ms
    relative = _RELATIVE.match(text)
    if relative:
        return now_ms - parse_duration_ms(relative.group(1).strip())
    # Which zone a bare time means is a guess; RFC 3339 always names it.
    return parse_iso_ms(text)


def replay_span(args: argparse.Namespace, now_ms: int) -> Span:
    times: dict[str, int] = {}
    for name in ("since", "until"):
        value = getattr(args, name)
        if value is None:
            raise RunProblem(f"--from-kafka needs --{name} TIME ({TIME_HELP})")
        try:
            times[name] = parse_time_ms(value, now_ms)
        except (DurationError, ValueError) as exc:
            raise RunProblem(f"--{name}: bad time {value!r}: {exc} ({TIME_HELP})") from None
    if times["since"] > times["until"]:
        raise RunProblem(f"--since ({args.since}) is after --until ({args.until})")
    return Span(args.from_kafka, times["since"], times["until"])


def kafka_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> KafkaSettings:
    flags = {s.name: getattr(args, s.name, None) for s in KAFKA_SETTINGS}
    v = SettingValues(KAFKA_SETTINGS, flags, os.environ if env is None else env)
    settings = load_kafka(v)
    try:
        v.check()
    except ConfigError as exc:
        raise RunProblem(" ".join(str(exc).split())) from None
    return settings
