"""Worker configuration: flags over environment over defaults, every problem reported."""

import ssl
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streams.config import load_config
from streams.settings import ConfigError


def test_defaults_and_environment(tmp_path):
    env = {"SIGNALFIRE_BROKERS": "k1:9092,k2:9092", "SIGNALFIRE_LATENESS": "1m"}
    cfg = load_config({"rules": str(tmp_path)}, env)
    assert cfg.kafka.brokers == "k1:9092,k2:9092" and cfg.lateness_ms == 60_000
    assert cfg.events_topic == "usage-events" and cfg.pager_topic == "pager"
    assert cfg.dlq_topic == "usage-events.dlq" and cfg.web_port == 6066


def test_the_core_runs_a_workers_batches_on_one_thread_unless_told(tmp_path):
    assert load_config({"rules": str(tmp_path)}, {}).core_threads == 1
    cfg = load_config({"rules": str(tmp_path)}, {"SIGNALFIRE_CORE_THREADS": "2"})
    assert cfg.core_threads == 2
    with pytest.raises(ConfigError, match="--core-threads / SIGNALFIRE_CORE_THREADS: must be"):
        load_config({"rules": str(tmp_path), "core_threads": "0"}, {})


def test_flags_win_over_environment(tmp_path):
    cfg = load_config({"rules": str(tmp_path), "web_port": "7000"}, {"SIGNALFIRE_WEB_PORT": "8000"})
    assert cfg.web_port == 7000


def test_every_problem_named_with_flag_and_variable():
    with pytest.raises(ConfigError) as err:
        load_config(
            {"brokers": "nocolon", "rules": "/no/such/dir", "lateness": "soon", "web_port": "x"},
            {},
        )
    text = str(err.value)
    assert "--brokers / SIGNALFIRE_BROKERS: expected host:port" in text
    assert "--rules / SIGNALFIRE_RULES: '/no/such/dir' is not a directory" in text
    assert "--lateness / SIGNALFIRE_LATENESS: bad duration 'soon'" in text
    assert "--web-port / SIGNALFIRE_WEB_PORT: expected a whole number" in text


def test_sasl_needs_credentials_and_reads_password_file(tmp_path):
    with pytest.raises(ConfigError, match="a user and a password are required"):
        load_config(
            {"rules": str(tmp_path), "security_protocol": "SASL_PLAINTEXT"},
            {"SIGNALFIRE_SASL_MECHANISM": "SCRAM-SHA-256"},
        )
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    cfg = load_config(
        {"rules": str(tmp_path), "security_protocol": "sasl_plaintext"},
        {"SIGNALFIRE_SASL_MECHANISM": "scram-sha-256", "SIGNALFIRE_SASL_USERNAME": "sf",
         "SIGNALFIRE_SASL_PASSWORD_FILE": str(secret)},
    )  # fmt: skip
    assert cfg.kafka.sasl_password == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert cfg.kafka.options()["sasl_mechanism"] == "SCRAM-SHA-256"


def test_topics_must_differ(tmp_path):
    with pytest.raises(ConfigError, match="different from each other"):
        load_config({"rules": str(tmp_path), "pager_topic": "usage-events"}, {})


def test_worker_command_exits_2_with_the_problems(capsys):
    from signalfire.cli import main

    assert main(["worker", "--brokers", "nocolon", "--rules", "/no/such/dir"]) == 2
    err = capsys.readouterr().err
    assert "--brokers / SIGNALFIRE_BROKERS" in err and "--rules / SIGNALFIRE_RULES" in err


# --- security: SASL/SCRAM and TLS settings --------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A real CA certificate and a client certificate signed by it (openssl)."""
    from tests.integration.secure_broker import make_tls

    return make_tls(tmp_path_factory.mktemp("tls"))


SCRAM = {"SIGNALFIRE_SASL_MECHANISM": "SCRAM-SHA-512", "SIGNALFIRE_SASL_USERNAME": "sf"}


def test_sasl_password_from_the_environment_reaches_the_client_options_only(tmp_path):
    env = {**SCRAM, "SIGNALFIRE_SASL_PASSWORD": "env-s3cret"}
    cfg = load_config({"rules": str(tmp_path), "security_protocol": "SASL_PLAINTEXT"}, env)
    options = cfg.kafka.options()
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "sf"
    assert options["sasl_plain_password"] == "env-s3cret"
    assert "ssl_context" not in options
    assert "env-s3cret" not in repr(cfg)


def test_password_file_wins_over_the_environment(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    env = {**SCRAM, "SIGNALFIRE_SASL_PASSWORD": "from-env"}
    cfg = load_config(
        {
            "rules": str(tmp_path),
            "security_protocol": "SASL_SSL",
            "sasl_password_file": str(secret),
        },
        env,
    )
    assert cfg.kafka.sasl_password == "from-file"


def test_the_password_has_no_command_line_flag_not_even_as_an_abbreviation(capsys):
    from signalfire.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["worker", "--sasl-password", "on-the-command-line"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --sasl-password" in capsys.readouterr().err


def test_unreadable_password_file_is_named_and_no_secret_is_echoed(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(
            {"rules": str(tmp_path), "security_protocol": "SASL_SSL",
             "sasl_password_file": str(tmp_path / "missing")},
            {**SCRAM, "SIGNALFIRE_SASL_PASSWORD": "env-s3cret", "SIGNALFIRE_LATENESS": "x"},
        )  # fmt: skip
    text = str(err.value)
    assert "--sasl-password-file / SIGNALFIRE_SASL_PASSWORD_FILE: cannot read" in text
    assert "--lateness / SIGNALFIRE_LATENESS" in text  # every problem, not just the first
    assert "env-s3cret" not in text


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"security_protocol": "TLS"}, {}, "--security-protocol / SIGNALFIRE_SECURITY_PROTOCOL: "
         "expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "sf"},
         {"SIGNALFIRE_SASL_PASSWORD": "Zq9-secret"},
         "--sasl-mechanism / SIGNALFIRE_SASL_MECHANISM: with SASL_SSL, one of PLAIN, SCRAM"),
        ({"sasl_username": "sf"}, {"SIGNALFIRE_SASL_PASSWORD": "Zq9-secret"},
         "--security-protocol / SIGNALFIRE_SECURITY_PROTOCOL: SASL settings are set but "
         "PLAINTEXT does not use them"),
        ({"security_protocol": "SSL", "sasl_mechanism": "SCRAM-SHA-256"}, {},
         "SASL settings are set but SSL does not use them"),
        ({"ssl_cafile": "/etc/hostname"}, {},
         "--ssl-cafile / SIGNALFIRE_SSL_CAFILE: set but PLAINTEXT does not use TLS"),
        ({"security_protocol": "SSL", "ssl_cafile": "/no/such/ca.pem"}, {},
         "--ssl-cafile / SIGNALFIRE_SSL_CAFILE: '/no/such/ca.pem' is not a file"),
        ({"security_protocol": "SSL", "ssl_keyfile": "/etc/hostname"}, {},
         "--ssl-keyfile / SIGNALFIRE_SSL_KEYFILE: needs --ssl-certfile"),
        ({"security_protocol": "SSL", "ssl_cafile": "/etc/hostname"}, {},
         "--ssl-cafile / SIGNALFIRE_SSL_CAFILE: cannot load the CA"),
    ],
)  # fmt: skip
def test_security_problems_are_named(tmp_path, flags, env, message):
    with pytest.raises(ConfigError) as err:
        load_config({"rules": str(tmp_path), **flags}, env)
    assert message in str(err.value)
    assert "Zq9-secret" not in str(err.value)


def test_tls_verifies_the_broker_against_the_given_ca(tmp_path, ca):
    cfg = load_config(
        {"rules": str(tmp_path), "security_protocol": "SSL", "ssl_cafile": str(ca.ca_pem)}, {}
    )
    options = cfg.kafka.options()
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    (only,) = context.get_ca_certs()  # the given CA and nothing else (no system store)
    assert (("commonName", "signalfire test ca"),) in only["subject"]


def test_mutual_tls_loads_the_client_certificate_and_rejects_a_mismatched_key(tmp_path, ca):
    flags = {"rules": str(tmp_path), "security_protocol": "SASL_SSL", "ssl_cafile": str(ca.ca_pem)}
    env = {**SCRAM, "SIGNALFIRE_SASL_PASSWORD": "pw",
           "SIGNALFIRE_SSL_CERTFILE": str(ca.client_cert)}  # fmt: skip
    cfg = load_config(flags, {**env, "SIGNALFIRE_SSL_KEYFILE": str(ca.client_key)})
    options = cfg.kafka.options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_plain_password"] == "pw"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    wrong_key = ca.client_key.parent / "broker.key"
    with pytest.raises(ConfigError, match="--ssl-certfile / SIGNALFIRE_SSL_CERTFILE: cannot load"):
        load_config(flags, {**env, "SIGNALFIRE_SSL_KEYFILE": str(wrong_key)})


@pytest.mark.parametrize(
    ("protocol", "extra"),
    [("PLAINTEXT", {}), ("SASL_PLAINTEXT", SCRAM), ("SSL", {}), ("SASL_SSL", SCRAM)],
)
def test_faust_clients_get_the_same_security_as_the_pipeline_clients(tmp_path, ca, protocol, extra):
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.app import _credentials

    env = {**extra, "SIGNALFIRE_SASL_PASSWORD": "pw"} if extra else {}
    flags = {"rules": str(tmp_path), "security_protocol": protocol}
    if protocol.endswith("SSL"):
        flags["ssl_cafile"] = str(ca.ca_pem)
    cfg = load_config(flags, env)
    faust_side = credentials_to_aiokafka_auth(_credentials(cfg.kafka))
    ours = cfg.kafka.options()
    for key in (
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
    ):
        assert faust_side.get(key) == ours.get(key), key
    if protocol.endswith("SSL"):
        context = ours["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert faust_side["ssl_context"].get_ca_certs() == context.get_ca_certs()
    else:
        assert faust_side.get("ssl_context") is None


def test_repartition_topics_belong_to_their_group(tmp_path):
    one = load_config({"rules": str(tmp_path)}, {})
    canary = load_config({"rules": str(tmp_path), "group_id": "canary"}, {})
    assert one.repartition_topic("ip") == "signalfire.usage-events.by-ip"
    assert canary.repartition_topic("ip") != one.repartition_topic("ip")


def test_instance_id_is_checked(tmp_path):
    cfg = load_config({"rules": str(tmp_path)}, {"SIGNALFIRE_INSTANCE_ID": "worker-0.eu_1"})
    assert cfg.instance_id == "worker-0.eu_1"
    with pytest.raises(ConfigError) as err:
        load_config({"rules": str(tmp_path), "instance_id": "pod 7/a"}, {})
    assert "--instance-id / SIGNALFIRE_INSTANCE_ID: up to 200 of the characters" in str(err.value)


@pytest.mark.parametrize(
    ("setting", "codec"), [(None, "zstd"), ("none", None), ("LZ4", "lz4"), ("gzip", "gzip")]
)
def test_the_codec_of_what_the_worker_writes(tmp_path, setting, codec):
    env = {} if setting is None else {"SIGNALFIRE_COMPRESSION": setting}
    assert load_config({"rules": str(tmp_path)}, env).compression == codec


def test_an_unknown_codec_is_named():
    with pytest.raises(ConfigError) as err:
        load_config({"rules": ".", "compression": "brotli"}, {})
    assert "--compression / SIGNALFIRE_COMPRESSION: expected one of none, gzip, lz4, zstd" in str(
        err.value
    )


@pytest.mark.parametrize(
    ("setting", "form"), [(None, "binary"), ("json", "json"), ("Binary", "binary")]
)
def test_the_form_of_forwarded_events(tmp_path, setting, form):
    env = {} if setting is None else {"SIGNALFIRE_REPARTITION_FORMAT": setting}
    assert load_config({"rules": str(tmp_path)}, env).repartition_format == form


def test_an_unknown_repartition_format_is_named():
    with pytest.raises(ConfigError) as err:
        load_config({"rules": ".", "repartition_format": "avro"}, {})
    assert "--repartition-format / SIGNALFIRE_REPARTITION_FORMAT: expected one of binary, json" in (
        str(err.value)
    )


async def test_the_worker_writes_with_the_configured_codec(tmp_path):
    """Its producers get the codec, and aiokafka has it (lz4 needs cramjam installed)."""
    from aiokafka.codec import has_gzip, has_lz4, has_zstd

    from alerting.metrics import Metrics
    from streams.pipeline import Pipeline
    from tests.unit.streams.memory_kafka import Broker, MemoryClients, MemoryProducer, Process

    assert has_lz4() and has_zstd() and has_gzip()
    made: list[dict[str, object]] = []
    clients = MemoryClients(Process(Broker()))
    producer = clients.producer

    def recording(**options: Any) -> MemoryProducer:
        made.append(options)
        return producer(**options)

    clients.producer = recording  # type: ignore[method-assign]
    cfg = load_config({"rules": "rules", "compression": "zstd"}, {})
    pipeline = Pipeline(cfg, [], Metrics.create(CollectorRegistry()), clients=clients)
    await pipeline.txns.open([("usage-events", 0)])
    assert [o["compression_type"] for o in made if o.get("transactional_id")] == ["zstd"]


def test_the_bridge_reads_the_same_kafka_settings_as_the_worker(tmp_path, ca):
    from streams.bridge_settings import load_bridge_settings

    bridge_config = tmp_path / "bridge.yaml"
    bridge_config.write_text("sinks: []\n")
    env = {
        **SCRAM,
        "SIGNALFIRE_SASL_PASSWORD": "pw",
        "SIGNALFIRE_BROKERS": "k1:9093,k2:9093",
        "SIGNALFIRE_SECURITY_PROTOCOL": "SASL_SSL",
        "SIGNALFIRE_SSL_CAFILE": str(ca.ca_pem),
    }
    worker = load_config({"rules": str(tmp_path)}, env)
    bridge = load_bridge_settings({"bridge_config": str(bridge_config)}, env)
    assert bridge.kafka == worker.kafka
    assert worker.kafka.sasl_password == "pw" and worker.kafka.brokers == "k1:9093,k2:9093"
    with pytest.raises(ConfigError) as err:
        load_bridge_settings({"bridge_config": str(bridge_config), "brokers": "nocolon"}, {})
    assert "--brokers / SIGNALFIRE_BROKERS: expected host:port" in str(err.value)
