"""Worker configuration: flags over environment over defaults, every problem reported."""

import pytest

from streams.config import ConfigError, load_config


def test_defaults_and_environment(tmp_path):
    env = {"SIGNALFIRE_BROKERS": "k1:9092,k2:9092", "SIGNALFIRE_LATENESS": "1m"}
    cfg = load_config({"rules": str(tmp_path)}, env)
    assert cfg.brokers == "k1:9092,k2:9092" and cfg.lateness_ms == 60_000
    assert cfg.events_topic == "usage-events" and cfg.pager_topic == "pager"
    assert cfg.dlq_topic == "usage-events.dlq" and cfg.web_port == 6066


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
    assert cfg.sasl_password == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert cfg.kafka_options()["sasl_mechanism"] == "SCRAM-SHA-256"


def test_topics_must_differ(tmp_path):
    with pytest.raises(ConfigError, match="different from each other"):
        load_config({"rules": str(tmp_path), "pager_topic": "usage-events"}, {})


def test_worker_command_exits_2_with_the_problems(capsys):
    from signalfire.cli import main

    assert main(["worker", "--brokers", "nocolon", "--rules", "/no/such/dir"]) == 2
    err = capsys.readouterr().err
    assert "--brokers / SIGNALFIRE_BROKERS" in err and "--rules / SIGNALFIRE_RULES" in err
