"""`signalfire bridge` process settings: flags and `SIGNALFIRE_*` variables, like the worker's.

The Kafka connection settings (brokers, SASL, TLS) are the worker's own, so one environment
serves both processes; the sinks and routes live in the bridge's YAML config
(`alerting.bridge_config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.config import SETTINGS as WORKER_SETTINGS
from streams.config import ConfigError, Setting, WorkerConfig, load_config

_SHARED = ("brokers", "pager_topic", "web_host")
_SECURITY = tuple(s.name for s in WORKER_SETTINGS if s.name.startswith(("security", "sasl", "ssl")))

BRIDGE_SETTINGS: tuple[Setting, ...] = (
    Setting("bridge_config", "deploy/bridge/bridge.yaml", "the bridge's sinks and routes (YAML)"),
    *(s for s in WORKER_SETTINGS if s.name in _SHARED),
    Setting("pager_dlq_topic", "pager.dlq", "dead-letter topic for pages no sink would take"),
    Setting("bridge_group_id", "signalfire-bridge", "consumer group of the bridges"),
    Setting("web_port", "6068", "port of /metrics, /healthz, /readyz"),
    *(s for s in WORKER_SETTINGS if s.name in _SECURITY),
)


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    config_path: str
    pager_dlq_topic: str
    group_id: str
    kafka: WorkerConfig  # brokers, pager topic, web host/port and security, checked as the worker's

    @property
    def pager_topic(self) -> str:
        return self.kafka.pager_topic

    def kafka_options(self) -> dict[str, object]:
        return self.kafka.kafka_options()


def load_bridge_settings(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> BridgeSettings:
    """Validated settings; raises ConfigError naming each bad setting and how to fix it."""
    env = os.environ if env is None else env
    by_name = {s.name: s for s in BRIDGE_SETTINGS}
    values: dict[str, str] = {}
    for s in BRIDGE_SETTINGS:
        flag = flags.get(s.name)
        values[s.name] = flag if flag is not None else env.get(s.env, s.default)
    problems: list[str] = []
    try:
        # The worker's checks of the shared settings; its rules directory plays no part here.
        worker_flags = {n: values[n] for n in (*_SHARED, "web_port", *_SECURITY)}
        kafka = load_config({**worker_flags, "rules": "."}, env)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines()[1:])
        kafka = WorkerConfig()
    if not Path(values["bridge_config"]).is_file():
        s = by_name["bridge_config"]
        problems.append(f"{s.flag} / {s.env}: {values['bridge_config']!r} is not a file")
    if values["pager_dlq_topic"] in ("", values["pager_topic"]):
        s = by_name["pager_dlq_topic"]
        problems.append(f"{s.flag} / {s.env}: must be set and differ from the pager topic")
    if problems:
        raise ConfigError("bad configuration:\n  " + "\n  ".join(p.strip() for p in problems))
    return BridgeSettings(
        config_path=values["bridge_config"],
        pager_dlq_topic=values["pager_dlq_topic"],
        group_id=values["bridge_group_id"],
        kafka=kafka,
    )
