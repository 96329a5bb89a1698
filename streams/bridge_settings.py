"""`signalfire bridge` process settings: flags and `SIGNALFIRE_*` variables, like the worker's.

The Kafka connection settings (brokers, SASL, TLS) are the worker's own
(`streams.kafka_config`), so one environment serves both processes; the sinks and routes live
in the bridge's YAML config (`alerting.bridge_config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.config import SETTINGS as WORKER_SETTINGS
from streams.kafka_config import BROKERS, SECURITY_SETTINGS, KafkaSettings, load_kafka
from streams.settings import Setting, SettingValues

_SHARED = ("pager_topic", "shadow_topic", "web_host")

BRIDGE_SETTINGS: tuple[Setting, ...] = (
    Setting("bridge_config", "deploy/bridge/bridge.yaml", "the bridge's sinks and routes (YAML)"),
    BROKERS,
    *(s for s in WORKER_SETTINGS if s.name in _SHARED),
    Setting("pager_dlq_topic", "pager.dlq", "dead-letter topic for pages no sink would take"),
    Setting("bridge_group_id", "signalfire-bridge", "consumer group of the bridges"),
    Setting("web_port", "6068", "port of /metrics, /healthz, /readyz"),
    *SECURITY_SETTINGS,
)


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    config_path: str = "deploy/bridge/bridge.yaml"
    pager_topic: str = "pager"
    shadow_topic: str = "pager.shadow"
    pager_dlq_topic: str = "pager.dlq"
    group_id: str = "signalfire-bridge"
    web_host: str = "127.0.0.1"
    web_port: int = 6068
    kafka: KafkaSettings = field(default_factory=KafkaSettings)


def load_bridge_settings(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> BridgeSettings:
    """Validated settings; raises ConfigError naming each bad setting and how to fix it."""
    v = SettingValues(BRIDGE_SETTINGS, flags, os.environ if env is None else env)
    kafka = load_kafka(v)
    if not v["pager_topic"]:
        v.bad("pager_topic", "topics must be non-empty and different from each other")
    web_port = v.integer("web_port", 0, 65535)
    if not Path(v["bridge_config"]).is_file():
        v.bad("bridge_config", f"{v['bridge_config']!r} is not a file")
    if (v["shadow_topic"] or f"{v['pager_topic']}.shadow") == v["pager_topic"]:
        v.bad("shadow_topic", "must differ from the pager topic: shadow pages never page")
    if v["pager_dlq_topic"] in ("", v["pager_topic"]):
        v.bad("pager_dlq_topic", "must be set and differ from the pager topic")
    v.check()
    return BridgeSettings(
        config_path=v["bridge_config"],
        pager_topic=v["pager_topic"],
        shadow_topic=v["shadow_topic"] or f"{v['pager_topic']}.shadow",
        pager_dlq_topic=v["pager_dlq_topic"],
        group_id=v["bridge_group_id"],
        web_host=v["web_host"],
        web_port=web_port,
        kafka=kafka,
    )
