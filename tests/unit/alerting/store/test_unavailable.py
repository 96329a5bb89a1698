"""A database that is down or busy: StoreUnavailable (the sink retries), nothing half written,
the store works again once the database is back, and no password in any message."""

import sqlite3

import pytest

from alerting.store import StoreUnavailable, open_store
from tests.postgres_server import PostgresServer
from tests.unit.alerting.pager_samples import message


def test_sqlite_locked_by_another_writer_then_free(tmp_path):
    path = tmp_path / "pages.db"
    store = open_store(f"sqlite:///{path}", connect_timeout_s=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreUnavailable, match="locked"):
        store.record(message())
    other.execute("ROLLBACK")
    other.close()
    assert store.record(message()).outcome == "stored"
    store.close()


def test_sqlite_file_that_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreUnavailable, match="sqlite"):
        open_store(f"sqlite:///{tmp_path / 'file' / 'pages.db'}")


@pytest.mark.integration
def test_postgresql_down_then_back():
    server = PostgresServer().start()
    try:
        store = open_store(server.create_database(), connect_timeout_s=2)
        store.record(message(key="before"))
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.record(message(key="while-down"))
        server.start()
        assert store.record(message(key="while-down")).outcome == "stored"
        assert len(store.list_pages().pages) == 2
        store.close()
    finally:
        server.close()


def test_postgresql_errors_never_show_the_password():
    url = "postgresql://sf:pa55-w0rd@127.0.0.1:9/pages"  # port 9 (discard): nothing listens
    with pytest.raises(StoreUnavailable) as info:
        open_store(url, connect_timeout_s=1)
    assert "pa55-w0rd" not in str(info.value) and "127.0.0.1" in str(info.value)
