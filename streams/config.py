"""Worker configuration from flags and `SIGNALFIRE_*` environment variables (read as
`streams.settings` reads them); the Kafka connection settings are those of `streams.kafka_config`,
shared with the bridge."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from signalfire.engine.core import RepartitionFormat
from streams.kafka_config import BROKERS, SECURITY_SETTINGS, KafkaSettings, load_kafka
from streams.settings import Setting, SettingValues

# Kafka's group.instance.id: legal topic-name characters; it is also part of a client id.
INSTANCE_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
COMPRESSIONS = ("none", "gzip", "lz4", "zstd")
REPARTITION_FORMATS: dict[str, RepartitionFormat] = {"binary": "binary", "json": "json"}


SETTINGS: tuple[Setting, ...] = (
    BROKERS,
    Setting("group_id", "signalfire", "consumer group (workers of one deployment share it)"),
    Setting(
        "instance_id",
        "",
        "stable, unique name of this worker (e.g. its pod name): after a crash or restart it "
        "takes its partitions straight back instead of waiting for a rebalance",
    ),
    Setting("rules", "rules", "rules directory"),
    Setting("events_topic", "usage-events", "input topic"),
    Setting("pager_topic", "pager", "output topic for pages"),
    Setting(
        "shadow_topic",
        "",
        "pages kept from on-call: those of `mode: shadow` rules and snoozed triggers; the page "
        "store reads them, no pager does (default: the pager topic's name + .shadow)",
    ),
    Setting("dlq_topic", "usage-events.dlq", "dead-letter topic for bad records"),
    Setting("control_topic", "signalfire.control", "compacted topic of snoozes, read whole"),
    Setting("web_host", "127.0.0.1", "interface of /metrics, /healthz, /readyz"),
    Setting("web_port", "6066", "port of /metrics, /healthz, /readyz"),
    Setting("lateness", "30s", "allowed lateness of events"),
    Setting("idle_timeout", "30s", "a partition idle this long stops holding time back"),
    Setting("max_groups", "100000", "per-rule cap on tracked groups"),
    Setting(
        "core_threads",
        "1",
        "threads the compiled core runs a batch on; workers scale out by partitions, one per core",
    ),
    Setting("max_record_bytes", "1000000", "larger records go to the dead-letter topic"),
    Setting("batch_records", "10000", "most records fetched per turn of the loop"),
    Setting("compression", "zstd", "codec of the records the worker writes: none, gzip, lz4, zstd"),
    Setting(
        "repartition_format",
        "binary",
        "form of the events forwarded to the repartition topics: binary, or json while workers "
        "of a version that reads only JSON still run (every worker reads both)",
    ),
    Setting("reload_interval", "5s", "how often the rules directory is checked for changes"),
    Setting("checkpoint_interval", "30s", "how often each partition's state is snapshotted"),
    Setting(
        "commit_interval",
        "1s",
        "a partition whose batches write nothing commits its offset this often, not per batch",
    ),
    Setting(
        "redact", "", "fields whose values never appear in pages, comma separated (ip,attrs.*)"
    ),
    *SECURITY_SETTINGS,
)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    group_id: str = "signalfire"
    instance_id: str = ""
    rules: str = "rules"
    events_topic: str = "usage-events"
    pager_topic: str = "pager"
    shadow_topic: str = "pager.shadow"
    dlq_topic: str = "usage-events.dlq"
    control_topic: str = "signalfire.control"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    lateness_ms: int = 30_000
    idle_timeout_ms: int = 30_000
    max_groups: int = 100_000
    core_threads: int = 1
    max_record_bytes: int = 1_000_000
    batch_records: int = 10_000
    # The codec of every record the worker writes, repartitioned events above all (`None`: none).
    compression: str | None = "zstd"
    # How forwarded events are written: "binary", or "json" as versions before it wrote them.
    repartition_format: RepartitionFormat = "binary"
    reload_interval_ms: int = 5_000
    checkpoint_interval_ms: int = 30_000
    commit_interval_ms: int = 1_000
    redact: tuple[str, ...] = ()
    kafka: KafkaSettings = field(default_factory=KafkaSettings)

    def repartition_topic(self, family: str) -> str:
        # Named after the group, as its state topics are: two deployments reading the same
        # input (a canary, a backtest group) must never read each other's forwarded events.
        return f"{self.group_id}.{self.events_topic}.by-{family}"


def load_config(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Validated configuration; raises ConfigError naming each bad setting and how to fix it."""
    v = SettingValues(SETTINGS, flags, os.environ if env is None else env)
    kafka = load_kafka(v)
    shadow_topic = v["shadow_topic"] or f"{v['pager_topic']}.shadow"
    names = ("events_topic", "pager_topic", "dlq_topic", "shadow_topic", "control_topic")
    topics = {**{t: v[t] for t in names}, "shadow_topic": shadow_topic}
    for topic in names:
        if not topics[topic] or len(set(topics.values())) < len(names):
            v.bad(topic, "topics must be non-empty and different from each other")
    if v["instance_id"] and not INSTANCE_ID.fullmatch(v["instance_id"]):
        v.bad("instance_id", "up to 200 of the characters a-z A-Z 0-9 . _ -")
    compression = v["compression"].lower()
    if compression not in COMPRESSIONS:
        v.bad("compression", f"expected one of {', '.join(COMPRESSIONS)}")
    form = v["repartition_format"].lower()
    if form not in REPARTITION_FORMATS:
        v.bad("repartition_format", f"expected one of {', '.join(REPARTITION_FORMATS)}")
    if not Path(v["rules"]).is_dir():
        v.bad("rules", f"{v['rules']!r} is not a directory of rule files")
    config = WorkerConfig(
        group_id=v["group_id"],
        instance_id=v["instance_id"],
        rules=v["rules"],
        events_topic=v["events_topic"],
        pager_topic=v["pager_topic"],
        shadow_topic=shadow_topic,
        dlq_topic=v["dlq_topic"],
        control_topic=v["control_topic"],
        web_host=v["web_host"],
        web_port=v.integer("web_port", 0, 65535),
        lateness_ms=v.duration("lateness"),
        idle_timeout_ms=v.duration("idle_timeout"),
        max_groups=v.integer("max_groups", 1),
        core_threads=v.integer("core_threads", 1, 64),
        max_record_bytes=v.integer("max_record_bytes", 64),
        batch_records=v.integer("batch_records", 1, 1_000_000),
        compression=None if compression == "none" else compression,
        repartition_format=REPARTITION_FORMATS.get(form, "binary"),
        reload_interval_ms=v.duration("reload_interval"),
        checkpoint_interval_ms=v.duration("checkpoint_interval"),
        commit_interval_ms=v.duration("commit_interval"),
        redact=tuple(f.strip() for f in v["redact"].split(",") if f.strip()),
        kafka=kafka,
    )
    v.check()
    return config
