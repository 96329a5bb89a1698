"""The real Apache Kafka broker shared by every test that needs one (deploy/kafka/kafka.sh)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kafka_broker import KafkaBroker, KafkaBrokerError


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    """One Kafka 4.x broker for the whole session, on free loopback ports in a temp dir.

    Fetches the jars on first use. Fails (never skips) when Kafka cannot start, with the
    kafka.sh output and the broker log tail in the message.
    """
    broker = KafkaBroker()
    failure: str | None = None
    try:
        KafkaBroker.fetch()
        broker.start()
    except (KafkaBrokerError, OSError) as exc:
        failure = str(exc)
        if "--- last" not in failure:  # kafka.sh up prints the log tail itself when it fails
            failure += "\n" + broker.log_tail(60)
        broker.close()
    if failure is not None:
        pytest.fail(f"Kafka could not start: {failure}", pytrace=False)
    try:
        yield broker
    finally:
        broker.close()
