"""`signalfire backtest --from-kafka` on a real broker: a span of a topic gives the pages, the
summary and the diff that a file backtest of the same events gives."""

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from signalfire.cli.main import main
from signalfire.generate import GeneratorConfig, iter_events
from tests.kafka_broker import KafkaBroker, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 3
BAD = [b"not json at all", b'{"event_id": "x1", "ts": 1}']


def recent_distinct_times(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Strictly increasing event times, so that the order across partitions (by record
    timestamp) is the file's order exactly, with no tie to break; and recent, so that the
    broker's retention (24h) keeps them."""
    shift = int(time.time() * 1000) - 86_400_000 // 2 - int(events[0]["ts"])
    last = -1
    for event in events:
        event["ts"] = last = max(int(event["ts"]) + shift, last + 1)
    return events


def key_of(line: bytes) -> bytes | None:
    """The org id, as producers key events (the bad records have none)."""
    try:
        org = orjson.loads(line).get("org_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return org.encode() if isinstance(org, str) else None


async def send(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, timestamp_ms=ts)
            for key, value, ts in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def topic_events(kafka: KafkaBroker) -> tuple[str, list[bytes], list[int]]:
    """A topic holding generated events (record timestamp = event time) and a few bad records,
    and the same lines in file order with each line's time."""
    topic = "replay-events"
    kafka.create_topic(topic, partitions=PARTITIONS)
    events = recent_distinct_times(list(iter_events(GeneratorConfig(seed=5, events=40_000))))
    lines = [orjson.dumps(e) for e in events]
    times = [int(e["ts"]) for e in events]
    middle = len(events) // 2
    for n, bad in enumerate(BAD):  # inside the span, between two events' times
        lines.insert(middle + n, bad)
        times.insert(middle + n, times[middle + n - 1])
    records = [(key_of(line), line, ts) for line, ts in zip(lines, times, strict=True)]
    asyncio.run(send(kafka.bootstrap, topic, records))
    return topic, lines, times


def span_file(tmp_path: Path, lines: list[bytes], times: list[int], since: int, until: int) -> Path:
    path = tmp_path / "span.jsonl"
    path.write_bytes(
        b"".join(
            line + b"\n" for line, ts in zip(lines, times, strict=True) if since <= ts <= until
        )
    )
    return path


def changed_rules(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    shutil.copytree(ROOT / "rules", other)
    burst = other / "api_key_burst.yaml"
    burst.write_text(re.sub(r"threshold: \d+", "threshold: 50", burst.read_text(), count=1))
    return other


def test_a_span_replays_as_a_file_backtest_of_its_events(kafka, topic_events, tmp_path, capsys):
    topic, lines, times = topic_events
    since, until = times[len(times) // 4], times[3 * len(times) // 4]
    events = span_file(tmp_path, lines, times, since, until)
    other = changed_rules(tmp_path)
    rules = ["--rules", str(ROOT / "rules"), "--diff", str(other)]

    assert main(["backtest", *rules, str(events), "--out", str(tmp_path / "file.jsonl")]) == 0
    from_file = capsys.readouterr()
    argv = ["backtest", *rules, "--from-kafka", topic, "--brokers", kafka.bootstrap]
    argv += ["--since", str(since), "--until", str(until), "--out", str(tmp_path / "kafka.jsonl")]
    assert main(argv) == 0
    from_kafka = capsys.readouterr()

    pages = (tmp_path / "kafka.jsonl").read_bytes()
    assert pages.count(b"\n") >= 5  # the span holds scenarios that page
    assert pages == (tmp_path / "file.jsonl").read_bytes()
    # the same summaries and the same diff; only the --out line names another file
    assert from_kafka.out.replace("kafka.jsonl", "file.jsonl") == from_file.out
    assert "would-have-paged diff: " in from_kafka.out
    assert "\n~ " in from_kafka.out  # the lower threshold moves a page earlier
    # bad records are rejected and shown as a file's bad lines are, by their place
    assert f"{len(BAD)} record(s) rejected" in from_kafka.err
    assert f"{len(BAD)} line(s) rejected" in from_file.err
    assert re.search(rf"{topic}\[\d\]:\d+: ", from_kafka.err)


def test_rfc3339_times_and_an_empty_span(kafka, topic_events, capsys):
    topic, _, _ = topic_events
    argv = ["backtest", "--rules", str(ROOT / "rules"), "--from-kafka", topic]
    argv += ["--brokers", kafka.bootstrap, "--since", "1990-01-01T00:00:00Z"]
    assert main([*argv, "--until", "1990-01-02T00:00:00+01:00"]) == 0
    assert "0 events, 0 late, 0 pager messages" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--since", "now", "--until=-1h"], "is after --until"),
        (["--since", "yesterday", "--until", "now"], "--since: bad time 'yesterday'"),
        (["--since", "2026-12-01T00:00:00", "--until", "now"], "add a zone"),
    ],
)
def test_a_bad_span_is_one_line_and_exit_2(kafka, extra, why, capsys):
    argv = ["backtest", "--rules", str(ROOT / "rules"), "--from-kafka", "replay-events"]
    assert main([*argv, "--brokers", kafka.bootstrap, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and err.startswith("signalfire backtest: ")


def test_an_unknown_topic_or_unreachable_broker_is_one_line_and_exit_2(kafka, capsys):
    argv = ["backtest", "--rules", str(ROOT / "rules"), "--since", "now-1h", "--until", "now"]
    assert main([*argv, "--from-kafka", "no-such-topic", "--brokers", kafka.bootstrap]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "topic 'no-such-topic' does not exist" in err

    nobody = f"127.0.0.1:{free_port()}"
    assert main([*argv, "--from-kafka", "replay-events", "--brokers", nobody]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "connection refused" in err and nobody in err


def test_a_replay_on_a_terminal_shows_a_bar_to_the_span_end(kafka, topic_events, capsys):
    topic, _, times = topic_events
    argv = ["backtest", "--rules", str(ROOT / "rules"), "--from-kafka", topic]
    argv += ["--brokers", kafka.bootstrap, "--since", str(times[0]), "--until", str(times[99])]
    assert main(argv, terminal=True) == 0
    shown = capsys.readouterr()
    assert f"replay {topic}" in shown.err and "100/100" in shown.err
    assert shown.out.endswith(
        "100 events, 0 late, 0 pager messages\n"
        "incidents: 0 pages -> 0 incidents (0 absorbed, window 30m)\n"
    )
