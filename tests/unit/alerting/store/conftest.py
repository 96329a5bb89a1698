"""Every store test runs on SQLite and on a real PostgreSQL server (marked integration)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerting.store import Store, open_store


class Clock:
    """Wall time the test sets (seconds, as time.time gives it)."""

    def __init__(self, now_s: float = 1_795_500_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pages.db'}"
    return str(request.getfixturevalue("postgres").create_database())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_url, clock) -> Iterator[Store]:
    s = open_store(store_url, clock=clock)
    try:
        yield s
    finally:
        s.close()
