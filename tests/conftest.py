"""The real Apache Kafka broker shared by every test that needs one (deploy/kafka/kafka.sh)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kafka_broker import KafkaBroker, KafkaBrokerError
from tests.postgres_server import PostgresError, PostgresServer


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (Debian's package), on a free loopback port
    in a temp dir; tests take a fresh database each with `create_database()`. Fails (never
    skips) when it cannot start, with what went wrong."""
    try:
        server = PostgresServer()
    except (PostgresError, OSError) as exc:
        pytest.fail(f"PostgreSQL could not be set up: {exc}", pytrace=False)
    try:
        server.start()
    except (PostgresError, OSError) as exc:
        server.close()
        pytest.fail(f"PostgreSQL could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.close()
