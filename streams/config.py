"""Worker configuration from flags and `SIGNALFIRE_*` environment variables.

Flags win over the environment, the environment over defaults. Every problem is reported at
start with the setting's flag and variable names, so an operator knows what to fix.
Secrets (SASL password) come only from the environment or a file, never from a flag.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.helpers import create_ssl_context

from signalfire.durations import DurationError, parse_duration_ms

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Kafka's group.instance.id: legal topic-name characters; it is also part of a client id.
INSTANCE_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


class ConfigError(ValueError):
    """Bad worker configuration; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SIGNALFIRE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("brokers", "localhost:9092", "Kafka bootstrap servers, comma separated"),
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
    Setting("dlq_topic", "usage-events.dlq", "dead-letter topic for bad records"),
    Setting("web_host", "127.0.0.1", "interface of /metrics, /healthz, /readyz"),
    Setting("web_port", "6066", "port of /metrics, /healthz, /readyz"),
    Setting("lateness", "30s", "allowed lateness of events"),
    Setting("idle_timeout", "30s", "a partition idle this long stops holding time back"),
    Setting("max_groups", "100000", "per-rule cap on tracked groups"),
    Setting("max_record_bytes", "1000000", "larger records go to the dead-letter topic"),
    Setting("batch_records", "2000", "records fetched per batch"),
    Setting("reload_interval", "5s", "how often the rules directory is checked for changes"),
    Setting("checkpoint_interval", "30s", "how often each partition's state is snapshotted"),
    Setting(
        "redact", "", "fields whose values never appear in pages, comma separated (ip,attrs.*)"
    ),
    Setting("security_protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    Setting("sasl_mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    Setting("sasl_username", "", "SASL user"),
    Setting("sasl_password", "", "SASL password (env or --sasl-password-file only)", True),
    Setting("sasl_password_file", "", "file holding the SASL password"),
    Setting("ssl_cafile", "", "CA bundle to verify the brokers"),
    Setting("ssl_certfile", "", "client certificate (mutual TLS)"),
    Setting("ssl_keyfile", "", "client key (mutual TLS)"),
)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    brokers: str = "localhost:9092"
    group_id: str = "signalfire"
    instance_id: str = ""
    rules: str = "rules"
    events_topic: str = "usage-events"
    pager_topic: str = "pager"
    dlq_topic: str = "usage-events.dlq"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    lateness_ms: int = 30_000
    idle_timeout_ms: int = 30_000
    max_groups: int = 100_000
    max_record_bytes: int = 1_000_000
    batch_records: int = 2000
    reload_interval_ms: int = 5_000
    checkpoint_interval_ms: int = 30_000
    redact: tuple[str, ...] = ()
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

    def repartition_topic(self, family: str) -> str:
        # Named after the group, as its state topics are: two deployments reading the same
        # input (a canary, a backtest group) must never read each other's forwarded events.
        return f"{self.group_id}.{self.events_topic}.by-{family}"

    def kafka_options(self) -> dict[str, object]:
        """Connection options shared by every aiokafka client of the worker."""
        options: dict[str, object] = {
            "bootstrap_servers": self.brokers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        return options

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.security_protocol.endswith("SSL"):
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile or None,
            certfile=self.ssl_certfile or None,
            keyfile=self.ssl_keyfile or None,
        )
        return context


def check_tls_files(
    cafile: str, certfile: str, keyfile: str, bad: Callable[[str, str], None]
) -> None:
    """Load the CA and the client certificate now, so a bad file is named at start."""
    try:
        context = ssl.create_default_context(cafile=cafile or None)
    except (ssl.SSLError, OSError) as exc:
        bad("ssl_cafile", f"cannot load the CA: {exc}")
        return
    if not certfile:
        return

    def no_passphrase() -> str:
        # An encrypted key would make OpenSSL prompt on the terminal; refuse it instead.
        raise ValueError("the key is encrypted")

    try:
        context.load_cert_chain(certfile, keyfile or None, password=no_passphrase)
    except (ssl.SSLError, OSError, ValueError) as exc:
        bad("ssl_certfile", f"cannot load the client certificate and key (unencrypted PEM): {exc}")


def raw_values(flags: Mapping[str, str | None], env: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for s in SETTINGS:
        flag = flags.get(s.name)
        values[s.name] = flag if flag is not None else env.get(s.env, s.default)
    return values


def load_config(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Validated configuration; raises ConfigError naming each bad setting and how to fix it."""
    env = os.environ if env is None else env
    v = raw_values(flags, env)
    problems: list[str] = []
    by_name = {s.name: s for s in SETTINGS}

    def bad(name: str, message: str) -> None:
        s = by_name[name]
        problems.append(f"{s.flag} / {s.env}: {message}")

    def duration(name: str) -> int:
        try:
            return parse_duration_ms(v[name])
        except DurationError as exc:
            bad(name, str(exc))
            return 0

    def integer(name: str, minimum: int, maximum: int = 2**31) -> int:
        try:
            n = int(v[name])
        except ValueError:
            bad(name, f"expected a whole number, got {v[name]!r}")
            return minimum
        if not minimum <= n <= maximum:
            bad(name, f"must be between {minimum} and {maximum}, got {n}")
        return n

    if not v["brokers"].strip() or any(":" not in b for b in v["brokers"].split(",")):
        bad("brokers", f"expected host:port[,host:port...], got {v['brokers']!r}")
    for topic in ("events_topic", "pager_topic", "dlq_topic"):
        if not v[topic] or len(set((v["events_topic"], v["pager_topic"], v["dlq_topic"]))) < 3:
            bad(topic, "topics must be non-empty and different from each other")
    if v["instance_id"] and not INSTANCE_ID.fullmatch(v["instance_id"]):
        bad("instance_id", "up to 200 of the characters a-z A-Z 0-9 . _ -")
    if not Path(v["rules"]).is_dir():
        bad("rules", f"{v['rules']!r} is not a directory of rule files")
    protocol = v["security_protocol"].upper()
    if protocol not in SECURITY_PROTOCOLS:
        bad("security_protocol", f"expected one of {', '.join(SECURITY_PROTOCOLS)}")
    password = v["sasl_password"]
    if v["sasl_password_file"]:
        try:
            password = Path(v["sasl_password_file"]).read_text().strip()
        except OSError as exc:
            bad("sasl_password_file", f"cannot read: {exc.strerror}")
    if protocol.startswith("SASL"):
        if v["sasl_mechanism"].upper() not in SASL_MECHANISMS:
            bad("sasl_mechanism", f"with {protocol}, one of {', '.join(SASL_MECHANISMS)}")
        if not v["sasl_username"] or not password:
            bad("sasl_username", f"with {protocol}, a user and a password are required")
    elif v["sasl_mechanism"] or v["sasl_username"] or password:
        # Credentials set for a protocol that ignores them: most likely a forgotten
        # SASL_SSL, and the worker would connect without them.
        bad("security_protocol", f"SASL settings are set but {protocol} does not use them")
    tls_files_ok = True
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        if v[name] and not Path(v[name]).is_file():
            bad(name, f"{v[name]!r} is not a file")
            tls_files_ok = False
        elif v[name] and not protocol.endswith("SSL"):
            bad(name, f"set but {protocol} does not use TLS")
    if v["ssl_keyfile"] and not v["ssl_certfile"]:
        bad("ssl_keyfile", "needs --ssl-certfile / SIGNALFIRE_SSL_CERTFILE too")
    elif protocol.endswith("SSL") and tls_files_ok:
        check_tls_files(v["ssl_cafile"], v["ssl_certfile"], v["ssl_keyfile"], bad)
    config = WorkerConfig(
        brokers=v["brokers"],
        group_id=v["group_id"],
        instance_id=v["instance_id"],
        rules=v["rules"],
        events_topic=v["events_topic"],
        pager_topic=v["pager_topic"],
        dlq_topic=v["dlq_topic"],
        web_host=v["web_host"],
        web_port=integer("web_port", 0, 65535),
        lateness_ms=duration("lateness"),
        idle_timeout_ms=duration("idle_timeout"),
        max_groups=integer("max_groups", 1),
        max_record_bytes=integer("max_record_bytes", 64),
        batch_records=integer("batch_records", 1, 1_000_000),
        reload_interval_ms=duration("reload_interval"),
        checkpoint_interval_ms=duration("checkpoint_interval"),
        redact=tuple(f.strip() for f in v["redact"].split(",") if f.strip()),
        security_protocol=protocol,
        sasl_mechanism=v["sasl_mechanism"].upper(),
        sasl_username=v["sasl_username"],
        sasl_password=password,
        ssl_cafile=v["ssl_cafile"],
        ssl_certfile=v["ssl_certfile"],
        ssl_keyfile=v["ssl_keyfile"],
    )
    if problems:
        raise ConfigError("bad configuration:\n  " + "\n  ".join(dict.fromkeys(problems)))
    return config
