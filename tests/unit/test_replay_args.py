"""`backtest --from-kafka`'s times and arguments, checked before any connection."""

import argparse

import pytest

from signalfire.cli.common import RunProblem
from signalfire.cli.main import main
from signalfire.cli.replay_args import kafka_settings, parse_time_ms, replay_span
from signalfire.durations import DurationError
from streams.replay import Span

NOW = 1_796_000_000_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1795392000000", 1_795_392_000_000),
        ("now", NOW),
        ("now-2h", NOW - 7_200_000),
        ("now - 1h30m", NOW - 5_400_000),
        ("-90s", NOW - 90_000),
        ("2026-11-23T08:00:00Z", 1_795_420_800_000),
        ("2026-11-23T08:00:00.250Z", 1_795_420_800_250),
        ("2026-11-23T09:00:00+01:00", 1_795_420_800_000),
    ],
)
def test_times(text, ms):
    assert parse_time_ms(text, NOW) == ms


@pytest.mark.parametrize("text", ["yesterday", "now-2 weeks", "2026-11-23T08:00:00", "-"])
def test_bad_times(text):
    with pytest.raises((DurationError, ValueError)):
        parse_time_ms(text, NOW)


def args(**kw: str | None) -> argparse.Namespace:
    return argparse.Namespace(**{"from_kafka": "usage-events", "since": None, "until": None, **kw})


def test_span_and_its_problems():
    assert replay_span(args(since="now-1h", until="now"), NOW) == Span(
        "usage-events", NOW - 3_600_000, NOW
    )
    with pytest.raises(RunProblem, match="needs --since"):
        replay_span(args(until="now"), NOW)
    with pytest.raises(RunProblem, match=r"--since \(now\) is after --until \(now-1m\)"):
        replay_span(args(since="now", until="now-1m"), NOW)


def test_kafka_settings_are_the_workers_flags_and_variables():
    ns = argparse.Namespace(brokers=None, security_protocol="sasl_plaintext")
    env = {
        "SIGNALFIRE_BROKERS": "k1:9092,k2:9092",
        "SIGNALFIRE_SASL_MECHANISM": "SCRAM-SHA-256",
        "SIGNALFIRE_SASL_USERNAME": "alice",
        "SIGNALFIRE_SASL_PASSWORD": "s3cret",
    }
    settings = kafka_settings(ns, env)
    assert settings.brokers == "k1:9092,k2:9092" and settings.security_protocol == "SASL_PLAINTEXT"
    assert settings.sasl_password == "s3cret"
    with pytest.raises(RunProblem) as bad:
        kafka_settings(ns, {"SIGNALFIRE_SASL_PASSWORD": "s3cret"})
    assert "\n" not in str(bad.value) and "s3cret" not in str(bad.value)


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["ev.jsonl", "--from-kafka", "t", "--since", "now", "--until", "now"], "one or the other"),
        ([], "give EVENTS files, or --from-kafka"),
        (["ev.jsonl", "--since", "now"], "--since and --until go with --from-kafka"),
    ],
)
def test_files_or_a_topic(argv, why, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["backtest", "--rules", str(tmp_path), *argv])
    assert exit_.value.code == 2 and why in capsys.readouterr().err


def test_the_sasl_password_is_never_a_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["backtest", "--rules", str(tmp_path), "--from-kafka", "t", "--sasl-password", "x"])
    assert "unrecognized arguments" in capsys.readouterr().err
