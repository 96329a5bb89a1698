"""A check at start that the worker can reach Kafka and log in, naming the setting to fix.

Without it, a wrong password, an untrusted broker certificate or a listener of another
protocol surface deep inside Faust's start-up as `Unable to bootstrap` under a traceback.
The check connects once to each bootstrap broker with the same options as every client of the
worker and asks for metadata; the first broker that answers is enough.
"""

from __future__ import annotations

import asyncio
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import (
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from streams.kafka_config import KafkaOptions, KafkaSettings

SECRET_SOURCE = "SIGNALFIRE_SASL_PASSWORD / --sasl-password-file"


class BrokerAccessError(RuntimeError):
    """No bootstrap broker accepted the worker; the message says which settings to check."""


async def check_brokers(config: KafkaSettings, timeout_s: float = 30.0) -> None:
    """Return once a bootstrap broker answers; raise BrokerAccessError otherwise."""
    options = config.options()
    options.pop("bootstrap_servers")
    problems = []
    for address in config.brokers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            await asyncio.wait_for(_probe(host, int(port), options, timeout_s), timeout_s)
        except (OSError, KafkaError, TimeoutError, ValueError) as exc:
            problems.append(f"{host}:{port}: {explain(config, exc, timeout_s)}")
            continue
        return
    raise BrokerAccessError("cannot use Kafka:\n  " + "\n  ".join(problems))


async def _probe(host: str, port: int, options: KafkaOptions, timeout_s: float) -> None:
    conn = await create_conn(
        host, port, client_id="signalfire-check", request_timeout_ms=int(timeout_s * 1000),
        **options,
    )  # fmt: skip
    try:
        await conn.send(MetadataRequest([]))
    finally:
        conn.close()


def explain(config: KafkaSettings, exc: BaseException, timeout_s: float) -> str:
    """What went wrong and which settings to look at (never a setting's secret value)."""
    protocol = config.security_protocol
    listener = (
        f"check --security-protocol / SIGNALFIRE_SECURITY_PROTOCOL ({protocol}) against the "
        "broker's listener on that port"
    )
    if protocol == "SSL":
        # A listener that requires client certificates fails the handshake (TLS 1.2) or
        # accepts it and then closes the connection (TLS 1.3).
        listener += (
            "; a listener that requires a client certificate wants --ssl-certfile / "
            "SIGNALFIRE_SSL_CERTFILE and --ssl-keyfile / SIGNALFIRE_SSL_KEYFILE"
        )
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"the broker rejected SASL {config.sasl_mechanism} authentication for user "
            f"{config.sasl_username!r}: check --sasl-username / SIGNALFIRE_SASL_USERNAME, "
            f"--sasl-mechanism / SIGNALFIRE_SASL_MECHANISM and the password "
            f"({SECRET_SOURCE})"
        )
    if isinstance(exc, UnsupportedSaslMechanismError) or "sasl mechanism" in str(exc).lower():
        return (
            f"the broker does not offer SASL {config.sasl_mechanism}: check "
            f"--sasl-mechanism / SIGNALFIRE_SASL_MECHANISM"
        )
    if isinstance(exc, IllegalSaslStateError):
        return f"the broker does not expect SASL there: {listener}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}): check "
            f"--ssl-cafile / SIGNALFIRE_SSL_CAFILE (the CA that signed it) and that the broker "
            f"address matches its certificate"
        )
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or exc}): {listener}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: check --brokers / SIGNALFIRE_BROKERS"
    if isinstance(exc, ConnectionError):
        # A plaintext listener drops a TLS hello (and a TLS listener drops plaintext) at once.
        return f"the broker dropped the connection: {listener}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:.0f}s: check --brokers and {listener}"
    if isinstance(exc, ValueError):
        return "expected host:port: check --brokers / SIGNALFIRE_BROKERS"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: check --brokers / SIGNALFIRE_BROKERS"
    return f"the broker closed the connection ({type(exc).__name__}): {listener}"
