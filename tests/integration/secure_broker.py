"""A test broker with SASL/SCRAM and TLS listeners beside its PLAINTEXT one.

It is the usual `KafkaBroker` (deploy/kafka/kafka.sh) with two opt-in settings:
`KAFKA_EXTRA_CONFIG` appends listeners, SCRAM and key store settings to the generated
server.properties, and `KAFKA_FORMAT_ARGS` creates the SCRAM users when the storage is formatted.
A throwaway CA, a broker certificate for 127.0.0.1 and a client certificate are made with
openssl in a temp dir. The SSL listener requires the client certificate (mutual TLS); SASL_SSL
and SASL_PLAINTEXT authenticate with SCRAM-SHA-256 or SCRAM-SHA-512.

    secure = SecureBroker.create(tmp_dir)      # started; PLAINTEXT stays on secure.broker.bootstrap
    secure.bootstrap("SASL_SSL")               # 127.0.0.1:<port> of that listener
    secure.client_options("SASL_SSL", "SCRAM-SHA-512")   # aiokafka options for user alice
    secure.client_options("SSL")               # mutual TLS with the client certificate
    secure.close()
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.helpers import create_ssl_context

from tests.kafka_broker import KafkaBroker, free_port

USER = "alice"
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SECURE_LISTENERS = ("SASL_PLAINTEXT", "SSL", "SASL_SSL")
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True)
class Tls:
    """A CA (PEM: what clients and the broker trust), the broker's PKCS12 key store and a
    client certificate and key (PEM) for mutual TLS, both signed by the CA."""

    ca_pem: Path
    keystore: Path
    keystore_password: str = field(repr=False)
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr}")


def make_ca(directory: Path, name: str = "ca") -> tuple[Path, Path]:
    """A self-signed CA: (certificate PEM, key PEM)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN=signalfire test {name}", "-keyout", key.name, "-out", cert.name,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def _sign(directory: Path, ca: tuple[Path, Path], name: str, cn: str, extensions: str) -> None:
    """`name`.key and `name`.pem: a new key and its certificate signed by the CA."""
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", ca[0].name, "-CAkey", ca[1].name,
        "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        cwd=directory,
    )  # fmt: skip


def make_tls(directory: Path) -> Tls:
    """A CA, a broker certificate valid for 127.0.0.1 and localhost (hostname checks pass)
    and a client certificate."""
    ca = make_ca(directory)
    ca_pem = ca[0]
    usage = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    _sign(
        directory, ca, "broker", "127.0.0.1",
        usage + "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )  # fmt: skip
    _sign(directory, ca, "client", "signalfire", usage + "extendedKeyUsage=clientAuth\n")
    password = secrets.token_hex(12)
    _openssl(
        "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", ca_pem.name,
        "-name", "broker", "-out", "broker.p12", "-passout", f"pass:{password}", cwd=directory,
    )  # fmt: skip
    return Tls(
        ca_pem,
        directory / "broker.p12",
        password,
        directory / "client.pem",
        directory / "client.key",
    )


def extra_config(ports: dict[str, int], tls: Tls) -> str:
    """server.properties lines that add the secure listeners (kafka.sh fills the @...@ ports)."""
    plain = "PLAINTEXT://127.0.0.1:@KAFKA_PORT@"
    secure = ",".join(f"{name}://127.0.0.1:{ports[name]}" for name in SECURE_LISTENERS)
    protocols = ",".join(f"{name}:{name}" for name in SECURE_LISTENERS)
    lines = [
        f"listeners={plain},CONTROLLER://127.0.0.1:@KAFKA_CONTROLLER_PORT@,{secure}",
        f"advertised.listeners={plain},{secure}",
        f"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,{protocols}",
        f"sasl.enabled.mechanisms={','.join(MECHANISMS)}",
        *(
            f"listener.name.{name.lower()}.{mech.lower()}.sasl.jaas.config={_SCRAM_MODULE}"
            for name in ("SASL_PLAINTEXT", "SASL_SSL")
            for mech in MECHANISMS
        ),
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={tls.keystore}",
        f"ssl.keystore.password={tls.keystore_password}",
        f"ssl.key.password={tls.keystore_password}",
        # TLS alone proves who the broker is; on the SSL listener the client proves who it is
        # with its certificate (mutual TLS), on SASL_SSL with SCRAM.
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tls.ca_pem}",
        "ssl.client.auth=none",
        "listener.name.ssl.ssl.client.auth=required",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class SecureBroker:
    broker: KafkaBroker
    ports: dict[str, int]
    tls: Tls
    password: str = field(repr=False)

    @classmethod
    def create(cls, directory: Path) -> SecureBroker:
        """Certificates, config and SCRAM users in `directory`; the broker started."""
        directory.mkdir(parents=True, exist_ok=True)
        tls = make_tls(directory / "tls")
        broker_port = free_port()
        controller_port = free_port(frozenset({broker_port}))
        taken = {broker_port, controller_port}
        ports: dict[str, int] = {}
        for name in SECURE_LISTENERS:
            ports[name] = free_port(frozenset(taken))
            taken.add(ports[name])
        config = directory / "secure.properties"
        config.write_text(extra_config(ports, tls))
        config.chmod(0o600)
        password = secrets.token_hex(16)
        scram = " ".join(
            f"--add-scram {mech}=[name={USER},password={password}]" for mech in MECHANISMS
        )
        broker = KafkaBroker(
            directory / "kafka",
            port=broker_port,
            controller_port=controller_port,
            env={"KAFKA_EXTRA_CONFIG": str(config), "KAFKA_FORMAT_ARGS": scram},
        )
        secure = cls(broker, ports, tls, password)
        broker.start()
        return secure

    def bootstrap(self, protocol: str) -> str:
        return f"127.0.0.1:{self.ports[protocol]}"

    def ssl_context(self, client_cert: bool = False) -> ssl.SSLContext:
        """Trusts only the test CA; with `client_cert`, presents the client certificate."""
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.tls.ca_pem),
            certfile=str(self.tls.client_cert) if client_cert else None,
            keyfile=str(self.tls.client_key) if client_cert else None,
        )
        return context

    def client_options(
        self, protocol: str, mechanism: str = "SCRAM-SHA-256", password: str | None = None
    ) -> dict[str, object]:
        """aiokafka connection options for this listener, as user alice when it is SASL."""
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap(protocol),
            "security_protocol": protocol,
        }
        if protocol.startswith("SASL"):
            options.update(
                sasl_mechanism=mechanism,
                sasl_plain_username=USER,
                sasl_plain_password=self.password if password is None else password,
            )
        if protocol.endswith("SSL"):
            options["ssl_context"] = self.ssl_context(client_cert=protocol == "SSL")
        return options

    def close(self) -> None:
        self.broker.close()
