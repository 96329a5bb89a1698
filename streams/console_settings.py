"""`signalfire console` process settings: flags and `SIGNALFIRE_*` variables, like the worker's.

The Kafka connection (brokers, SASL, TLS) and the control topic are the worker's, so that a
snooze set in the console reaches the workers of the same environment; users, the store and
where to listen live in the console's YAML config (`alerting.console.config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.config import SETTINGS as WORKER_SETTINGS
from streams.kafka_config import BROKERS, SECURITY_SETTINGS, KafkaSettings, load_kafka
from streams.settings import Setting, SettingValues

CONSOLE_SETTINGS: tuple[Setting, ...] = (
    Setting("console_config", "deploy/console/console.yaml", "the console's users and store"),
    Setting("console_listen", "", "HOST:PORT to serve on, instead of the config file's `listen`"),
    BROKERS,
    *(s for s in WORKER_SETTINGS if s.name == "control_topic"),
    *SECURITY_SETTINGS,
)


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    config_path: str = "deploy/console/console.yaml"
    listen: tuple[str, int] | None = None
    control_topic: str = "signalfire.control"
    kafka: KafkaSettings = field(default_factory=KafkaSettings)


def load_console_settings(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> ConsoleSettings:
    """Validated settings; raises ConfigError naming each bad setting and how to fix it."""
    v = SettingValues(CONSOLE_SETTINGS, flags, os.environ if env is None else env)
    kafka = load_kafka(v)
    if not Path(v["console_config"]).is_file():
        v.bad("console_config", f"{v['console_config']!r} is not a file")
    listen = None
    if v["console_listen"]:
        host, _, port = v["console_listen"].rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            v.bad("console_listen", "HOST:PORT, e.g. 127.0.0.1:8080")
        else:
            listen = (host.strip("[]"), int(port))
    if not v["control_topic"]:
        v.bad("control_topic", "must be set (the workers' control topic)")
    v.check()
    return ConsoleSettings(v["console_config"], listen, v["control_topic"], kafka)
