"""The Kafka connection settings, one model for the worker and the bridge: bootstrap brokers,
security protocol, SASL and TLS, from the same flags and `SIGNALFIRE_*` variables in both, so
one environment serves both processes.

Secrets (the SASL password) come only from the environment or a file, never from a flag.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from aiokafka.helpers import create_ssl_context

from streams.settings import Setting, SettingValues

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

BROKERS = Setting("brokers", "localhost:9092", "Kafka bootstrap servers, comma separated")
# Listed after the process's own settings in its --help.
SECURITY_SETTINGS: tuple[Setting, ...] = (
    Setting("security_protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    Setting("sasl_mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    Setting("sasl_username", "", "SASL user"),
    Setting("sasl_password", "", "SASL password (env or --sasl-password-file only)", True),
    Setting("sasl_password_file", "", "file holding the SASL password"),
    Setting("ssl_cafile", "", "CA bundle to verify the brokers"),
    Setting("ssl_certfile", "", "client certificate (mutual TLS)"),
    Setting("ssl_keyfile", "", "client key (mutual TLS)"),
)


class KafkaOptions(TypedDict, total=False):
    """Connection keyword arguments of every aiokafka client (consumer, producer, admin)."""

    bootstrap_servers: str
    security_protocol: str
    sasl_mechanism: str
    sasl_plain_username: str
    sasl_plain_password: str
    ssl_context: ssl.SSLContext


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    brokers: str = "localhost:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

    def options(self) -> KafkaOptions:
        """Connection options shared by every aiokafka client of the process."""
        options = KafkaOptions(
            bootstrap_servers=self.brokers, security_protocol=self.security_protocol
        )
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
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


def load_kafka(v: SettingValues) -> KafkaSettings:
    """The Kafka settings among `v` (BROKERS and SECURITY_SETTINGS), each problem reported to
    `v` naming the setting and how to fix it."""
    if not v["brokers"].strip() or any(":" not in b for b in v["brokers"].split(",")):
        v.bad("brokers", f"expected host:port[,host:port...], got {v['brokers']!r}")
    protocol = v["security_protocol"].upper()
    if protocol not in SECURITY_PROTOCOLS:
        v.bad("security_protocol", f"expected one of {', '.join(SECURITY_PROTOCOLS)}")
    password = v["sasl_password"]
    if v["sasl_password_file"]:
        try:
            password = Path(v["sasl_password_file"]).read_text().strip()
        except OSError as exc:
            v.bad("sasl_password_file", f"cannot read: {exc.strerror}")
    if protocol.startswith("SASL"):
        if v["sasl_mechanism"].upper() not in SASL_MECHANISMS:
            v.bad("sasl_mechanism", f"with {protocol}, one of {', '.join(SASL_MECHANISMS)}")
        if not v["sasl_username"] or not password:
            v.bad("sasl_username", f"with {protocol}, a user and a password are required")
    elif v["sasl_mechanism"] or v["sasl_username"] or password:
        # Credentials set for a protocol that ignores them: most likely a forgotten
        # SASL_SSL, and the process would connect without them.
        v.bad("security_protocol", f"SASL settings are set but {protocol} does not use them")
    tls_files_ok = True
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        if v[name] and not Path(v[name]).is_file():
            v.bad(name, f"{v[name]!r} is not a file")
            tls_files_ok = False
        elif v[name] and not protocol.endswith("SSL"):
            v.bad(name, f"set but {protocol} does not use TLS")
    if v["ssl_keyfile"] and not v["ssl_certfile"]:
        v.bad("ssl_keyfile", "needs --ssl-certfile / SIGNALFIRE_SSL_CERTFILE too")
    elif protocol.endswith("SSL") and tls_files_ok:
        check_tls_files(v["ssl_cafile"], v["ssl_certfile"], v["ssl_keyfile"], v.bad)
    return KafkaSettings(
        brokers=v["brokers"],
        security_protocol=protocol,
        sasl_mechanism=v["sasl_mechanism"].upper(),
        sasl_username=v["sasl_username"],
        sasl_password=password,
        ssl_cafile=v["ssl_cafile"],
        ssl_certfile=v["ssl_certfile"],
        ssl_keyfile=v["ssl_keyfile"],
    )
