"""The worker on a broker that wants SASL/SCRAM or TLS, and what it says when it cannot get in.

One broker for the module (tests/integration/secure_broker.py) with SASL_PLAINTEXT, SSL (mutual
TLS) and SASL_SSL listeners, a CA made for this run and a SCRAM user with a random password.
Every worker is the real `signalfire worker` process; events go in and pages come out through
the same secured listener the worker uses.
"""

import asyncio
import subprocess
import time
import urllib.error
import urllib.request

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from alerting.pager import to_json
from signalfire.cli.backtest import run_backtest
from signalfire.generate import GeneratorConfig, iter_events
from signalfire.rules import load_rules
from signalfire.sources import lines_of
from streams.connect import BrokerAccessError, check_brokers
from streams.kafka_config import KafkaSettings
from streams.produce import produce_events
from tests.integration.secure_broker import USER, SecureBroker, make_ca
from tests.integration.worker_harness import Topics, WorkerProcess, copy_rules, page_set
from tests.kafka_broker import KafkaBrokerError

pytestmark = pytest.mark.integration

EVENTS = GeneratorConfig(seed=11, events=20_000, orgs=50)


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    directory = tmp_path_factory.mktemp("secure-kafka")
    try:
        broker = SecureBroker.create(directory)
    except (KafkaBrokerError, RuntimeError, OSError) as exc:
        pytest.fail(f"the secure Kafka could not start: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="module")
def traffic():
    events = list(iter_events(EVENTS))
    backtest = run_backtest(load_rules(["rules"]).rules, lines_of(events))
    expected = [to_json(m) for m in backtest.messages]
    assert len(expected) >= 10  # the scenarios page
    return events, expected


def worker_env(secure: SecureBroker, protocol: str, **settings: str) -> dict[str, str]:
    env = {
        "SIGNALFIRE_BROKERS": secure.bootstrap(protocol),
        "SIGNALFIRE_SECURITY_PROTOCOL": protocol,
    }
    if protocol.endswith("SSL"):
        env["SIGNALFIRE_SSL_CAFILE"] = str(secure.tls.ca_pem)
    env.update({f"SIGNALFIRE_{name.upper()}": value for name, value in settings.items()})
    return env


async def _read_pages(options, topic, count, quiet_s=2.0, timeout_s=60.0):
    """Pages from the start of the topic until `count` came and then none for `quiet_s`."""
    consumer = AIOKafkaConsumer(
        topic, **options, auto_offset_reset="earliest", isolation_level="read_committed",
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    pages: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if len(pages) >= count and time.monotonic() - last_new >= quiet_s:
                break
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                pages.extend(orjson.loads(r.value) for r in records)
                last_new = time.monotonic()
    finally:
        await consumer.stop()
    return pages


def run_secured_worker(secure, traffic, tmp_path, protocol, env, **worker_kw):
    """Start a worker with `env`, feed it the generated events over `protocol` and check that
    a reader on that listener sees the pages the backtest predicts. Returns the worker, running."""
    events, expected = traffic
    topics = Topics.fresh()
    worker = WorkerProcess(
        secure.broker, topics, copy_rules(tmp_path / "rules"), env=env, **worker_kw
    ).start(tmp_path)
    try:
        # The worker creates its topics itself, through the secured admin client.
        worker.wait_ready()
        options = secure.client_options(protocol, env.get("SIGNALFIRE_SASL_MECHANISM", ""))
        assert asyncio.run(produce_events(events, topics.events, options)) == len(events)
        pages = asyncio.run(_read_pages(options, topics.pager, len(expected)))
        assert page_set(pages) == page_set(expected), worker.log_text()
        assert worker.metric("signalfire_events_consumed_total") >= len(events)
    except BaseException:
        worker.kill()
        raise
    return worker


def assert_no_secret(secure, worker, *texts):
    for text in (worker.log.read_text(errors="replace"), *texts):
        assert secure.password not in text
    assert "Traceback" not in worker.log.read_text(errors="replace")


def test_sasl_scram_sha_256_pages_and_the_password_stays_secret(secure, traffic, tmp_path):
    env = worker_env(
        secure, "SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256", sasl_username=USER, sasl_password=secure.password,
    )  # fmt: skip
    worker = run_secured_worker(secure, traffic, tmp_path, "SASL_PLAINTEXT", env)
    try:
        status, metrics = worker.get("/metrics")
        assert status == 200
        ready = worker.get("/readyz")[1]
        assert worker.get("/healthz")[0] == 200
    finally:
        assert worker.stop() == 0, worker.log_text()
    assert_no_secret(secure, worker, metrics.decode(), ready.decode())


def test_mutual_tls_verifies_the_broker_against_the_ca_and_pages(secure, traffic, tmp_path):
    env = worker_env(
        secure, "SSL",
        ssl_certfile=str(secure.tls.client_cert), ssl_keyfile=str(secure.tls.client_key),
    )  # fmt: skip
    worker = run_secured_worker(secure, traffic, tmp_path, "SSL", env)
    assert worker.stop() == 0, worker.log_text()


def test_sasl_ssl_scram_sha_512_password_file_and_web_on_the_chosen_interface(
    secure, traffic, tmp_path
):
    secret = tmp_path / "kafka-password"
    secret.write_text(secure.password + "\n")
    secret.chmod(0o600)
    env = worker_env(
        secure, "SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512", sasl_username=USER, sasl_password_file=str(secret),
    )  # fmt: skip
    worker = run_secured_worker(secure, traffic, tmp_path, "SASL_SSL", env, web_host="127.0.0.2")
    try:
        status, metrics = worker.get("/metrics")
        assert status == 200
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=2)
        assert isinstance(refused.value.reason, ConnectionRefusedError)
    finally:
        assert worker.stop() == 0, worker.log_text()
    assert_no_secret(secure, worker, metrics.decode())


def start_and_expect_refusal(secure, tmp_path, env):
    """The worker must exit on its own (not hang) with code 1; returns its output."""
    worker = WorkerProcess(secure.broker, Topics.fresh(), copy_rules(tmp_path / "rules"), env=env)
    worker.start(tmp_path)
    assert worker.proc is not None
    try:
        code = worker.proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"the worker hung instead of failing\n{worker.log_text()}") from None
    assert worker.log is not None
    output = worker.log.read_text(errors="replace")
    assert code == 1, output
    assert "Traceback" not in output
    assert "signalfire worker: cannot use Kafka:" in output
    return output


def test_wrong_password_fails_at_start_naming_the_settings(secure, tmp_path):
    wrong = "not-" + secure.password[:12]
    env = worker_env(
        secure, "SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256", sasl_username=USER, sasl_password=wrong,
    )  # fmt: skip
    output = start_and_expect_refusal(secure, tmp_path, env)
    assert f"rejected SASL SCRAM-SHA-256 authentication for user '{USER}'" in output
    assert "--sasl-username / SIGNALFIRE_SASL_USERNAME" in output
    assert "SIGNALFIRE_SASL_PASSWORD / --sasl-password-file" in output
    assert wrong not in output and secure.password not in output


def test_broker_certificate_from_another_ca_is_refused(secure, tmp_path):
    other_ca, _ = make_ca(tmp_path / "other-ca", "other")
    env = worker_env(
        secure, "SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512", sasl_username=USER, sasl_password=secure.password,
        ssl_cafile=str(other_ca),
    )  # fmt: skip
    output = start_and_expect_refusal(secure, tmp_path, env)
    assert "TLS certificate is not trusted" in output
    assert "--ssl-cafile / SIGNALFIRE_SSL_CAFILE" in output
    assert secure.password not in output


def config(secure, protocol, **kw):
    return KafkaSettings(brokers=secure.bootstrap(protocol), security_protocol=protocol, **kw)


MISMATCHES = {
    "plaintext client on the SASL listener": (
        lambda s: KafkaSettings(brokers=s.bootstrap("SASL_PLAINTEXT")),
        "--security-protocol / SIGNALFIRE_SECURITY_PROTOCOL (PLAINTEXT)",
    ),
    "SASL client on the plaintext listener": (
        lambda s: KafkaSettings(
            brokers=s.broker.bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username=USER,
            sasl_password=s.password,
        ),
        "does not expect SASL there",
    ),
    "TLS client on the plaintext listener": (
        lambda s: KafkaSettings(
            brokers=s.broker.bootstrap, security_protocol="SSL", ssl_cafile=str(s.tls.ca_pem)
        ),
        "--security-protocol / SIGNALFIRE_SECURITY_PROTOCOL (SSL)",
    ),
    "mechanism the broker does not offer": (
        lambda s: config(
            s,
            "SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username=USER,
            sasl_password=s.password,
        ),
        "does not offer SASL PLAIN: check --sasl-mechanism / SIGNALFIRE_SASL_MECHANISM",
    ),
    "unknown user": (
        lambda s: config(
            s,
            "SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="mallory",
            sasl_password=s.password,
            ssl_cafile=str(s.tls.ca_pem),
        ),
        "authentication for user 'mallory'",
    ),
    "no client certificate on the mutual TLS listener": (
        lambda s: config(s, "SSL", ssl_cafile=str(s.tls.ca_pem)),
        "--ssl-certfile / SIGNALFIRE_SSL_CERTFILE",
    ),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
async def test_start_check_names_the_setting_for_each_mismatch(secure, case):
    make, expected = MISMATCHES[case]
    with pytest.raises(BrokerAccessError) as err:
        await check_brokers(make(secure), timeout_s=20)
    assert expected in str(err.value)
    assert secure.password not in str(err.value)


async def test_start_check_passes_on_every_listener_with_the_right_settings(secure):
    tls = {"ssl_cafile": str(secure.tls.ca_pem)}
    scram = {"sasl_username": USER, "sasl_password": secure.password}
    client = {
        "ssl_certfile": str(secure.tls.client_cert),
        "ssl_keyfile": str(secure.tls.client_key),
    }
    for cfg in (
        KafkaSettings(brokers=secure.broker.bootstrap),
        config(secure, "SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256", **scram),
        config(secure, "SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512", **scram),
        config(secure, "SSL", **tls, **client),
        config(secure, "SASL_SSL", sasl_mechanism="SCRAM-SHA-256", **scram, **tls),
        # The first bootstrap broker is down: the second one is enough.
        KafkaSettings(brokers=f"127.0.0.1:1,{secure.broker.bootstrap}"),
    ):
        await check_brokers(cfg, timeout_s=20)
