"""Schema migrations: applied once at open, recorded, and a newer database refused."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from alerting.store import LATEST, SchemaTooNew, StoreUnavailable, open_store, parse_store_url
from alerting.store.db import Database, SqliteDatabase
from alerting.store.migrations import MIGRATIONS, Migration, current_version, migrate
from alerting.store.postgres import PostgresDatabase
from alerting.store.store import Store
from tests.unit.alerting.incident_samples import attack
from tests.unit.alerting.pager_samples import message

TABLES = ("pages", "messages", "page_entities", "acknowledgements", "verdicts", "snoozes",
          "audit_log", "incidents", "incident_pages")  # fmt: skip


def test_open_migrates_to_the_latest_and_every_table_is_there(store):
    assert store.schema_version() == LATEST
    with store.db.transaction() as tx:
        for table in TABLES:
            assert tx.one(f"SELECT COUNT(*) FROM {table}") == (0,)
        rows = tx.all("SELECT version, name FROM schema_version ORDER BY version")
    assert [v for v, _ in rows] == [m.version for m in MIGRATIONS]


def test_reopening_keeps_the_data_and_applies_nothing_again(store_url):
    first = open_store(store_url)
    first.record(message())
    first.close()
    again = open_store(store_url)
    try:
        assert migrate(again.db) == []
        assert len(again.list_pages().pages) == 1
    finally:
        again.close()


def database(url: str) -> Database:
    parsed = parse_store_url(url)
    return SqliteDatabase(parsed) if parsed.dialect == "sqlite" else PostgresDatabase(parsed, 10)


def test_migration_3_keeps_a_version_2_databases_pages_and_adds_incidents(store_url):
    db = database(store_url)
    assert migrate(db, MIGRATIONS[:2]) == [1, 2]
    with db.transaction() as tx:  # a page as Signalfire at schema version 2 stored it
        page_id = tx.insert(
            "INSERT INTO pages (dedup_key, rule_id, rule_version, rule_title, detector, severity,"
            " summary, group_text, state, started_at, last_event_at, triggers, details,"
            " stored_at, updated_at) VALUES ('d1', 'r1', 'v', 't', 'threshold', 'critical', 's',"
            " 'ip=203.0.113.1', 'triggered', 1, 1, 1, '{}', 1, 1) RETURNING id"
        )
        tx.execute(
            "INSERT INTO page_entities (page_id, name, value) VALUES (?, 'ip', '203.0.113.1')",
            (page_id,),
        )
    db.close()
    store = open_store(store_url)
    try:
        assert store.schema_version() == LATEST == 3
        [old] = store.pages_of("203.0.113.1", "ip").pages
        detail = store.page(old.id)
        assert detail is not None and detail.entities == {"ip": "203.0.113.1"}
        assert detail.incidents == () and detail.parents == {}
        with store.db.transaction() as tx:
            assert tx.all("SELECT source, ordinal FROM page_entities") == [("group", None)]
        for m in attack():
            store.record(m)
        assert len(store.list_incidents().incidents) == 3
    finally:
        store.close()


def test_a_new_migration_is_applied_on_the_next_open(store_url):
    open_store(store_url).close()
    extra = Migration(LATEST + 1, "a test column", ("ALTER TABLE pages ADD COLUMN extra TEXT",))
    store = open_store(store_url)
    try:
        assert migrate(store.db, (*MIGRATIONS, extra)) == [LATEST + 1]
        with store.db.transaction() as tx:
            assert current_version(tx) == LATEST + 1
            tx.all("SELECT extra FROM pages")
    finally:
        store.close()


def test_a_database_newer_than_the_code_is_refused_clearly(store_url):
    store = open_store(store_url)
    with store.db.transaction() as tx:
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'future', 0)",
            (LATEST + 1,),
        )
    store.close()
    with pytest.raises(
        SchemaTooNew, match=rf"version {LATEST + 1} is newer than this.*\({LATEST}\)"
    ):
        open_store(store_url)


def test_a_failed_migration_leaves_the_schema_as_it_was(store_url):
    broken = Migration(LATEST + 1, "broken", ("ALTER TABLE pages ADD COLUMN ok TEXT", "NOT SQL"))
    store = open_store(store_url)
    try:
        with pytest.raises(StoreUnavailable):
            migrate(store.db, (*MIGRATIONS, broken))
        assert store.schema_version() == LATEST
        with pytest.raises(StoreUnavailable, match="ok"), store.db.transaction() as tx:
            tx.all("SELECT ok FROM pages")  # the half-done migration's column is not there
    finally:
        store.close()


def test_store_is_usable_without_open_store(tmp_path):
    db = SqliteDatabase(parse_store_url(f"sqlite:///{tmp_path / 'x.db'}"))
    assert migrate(db) == [m.version for m in MIGRATIONS]
    assert Store(db).schema_version() == LATEST
    db.close()


def test_bridges_opening_a_new_database_together_migrate_it_once(store_url):
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(store_url, connect_timeout_s=10), range(4)))
    try:
        with stores[0].db.transaction(write=False) as tx:
            rows = tx.all("SELECT version FROM schema_version")
        assert sorted(r[0] for r in rows) == [m.version for m in MIGRATIONS]
    finally:
        for s in stores:
            s.close()


def test_a_new_sqlite_file_answering_locked_at_once_is_tried_again(tmp_path, monkeypatch):
    import alerting.store.store as store_module
    from alerting.store.db import StoreUnavailable
    from alerting.store.migrations import migrate as real

    calls = []

    def locked_once(db, now_ms):
        calls.append(now_ms)
        if len(calls) == 1:
            raise StoreUnavailable("sqlite pages.db: database is locked")
        return real(db, now_ms=now_ms)

    monkeypatch.setattr(store_module, "migrate", locked_once)
    store = store_module.open_store(f"sqlite:///{tmp_path / 'pages.db'}", connect_timeout_s=5)
    store.close()
    assert len(calls) == 2

    def locked(db, now_ms):
        calls.append(now_ms)
        raise StoreUnavailable("sqlite other.db: database is locked")

    monkeypatch.setattr(store_module, "migrate", locked)
    with pytest.raises(StoreUnavailable):  # locked past the timeout: the caller hears of it
        store_module.open_store(f"sqlite:///{tmp_path / 'other.db'}", connect_timeout_s=0.2)
    assert len(calls) > 3
