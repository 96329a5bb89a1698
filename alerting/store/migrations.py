"""Versioned schema migrations, applied in order when a store is opened.

Each migration has a number and a list of statements; `schema_version` records every one
applied, with when. Opening a database applies the missing ones in one transaction (under a
lock, so two bridges starting together migrate once) and refuses a database whose schema is
newer than this code knows: an older bridge must not write into a schema it does not understand.
A migration is never edited once released; a change is a new migration.

Times are epoch milliseconds (BIGINT), JSON is TEXT: the same in both dialects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from alerting.store.db import Database, StoreError, Tx

VERDICTS = ("confirmed_abuse", "false_positive", "benign", "duplicate")


class SchemaTooNew(StoreError):
    """The database was migrated by a newer Signalfire than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]  # {id} and {bigint} name the dialect's types


_VERDICT_LIST = ", ".join(f"'{v}'" for v in VERDICTS)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "pages, messages, entities; acknowledgements, verdicts, snoozes, audit log",
        (
            # An episode of one dedup key: from a trigger to its resolve.
            """CREATE TABLE pages (
                id {id},
                dedup_key TEXT NOT NULL,
                rule_id TEXT NOT NULL,
                rule_version TEXT NOT NULL,
                rule_title TEXT NOT NULL,
                detector TEXT NOT NULL,
                severity TEXT NOT NULL,
                summary TEXT NOT NULL,
                group_text TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('triggered', 'resolved')),
                started_at {bigint} NOT NULL,
                resolved_at {bigint},
                last_event_at {bigint} NOT NULL,
                triggers INTEGER NOT NULL,
                details TEXT NOT NULL,
                stored_at {bigint} NOT NULL,
                updated_at {bigint} NOT NULL
            )""",
            # At most one open episode per dedup key, whatever the writers.
            "CREATE UNIQUE INDEX pages_open ON pages (dedup_key) WHERE state = 'triggered'",
            "CREATE INDEX pages_started ON pages (started_at, id)",
            "CREATE INDEX pages_rule ON pages (rule_id, started_at)",
            "CREATE INDEX pages_dedup ON pages (dedup_key, started_at)",
            "CREATE INDEX pages_resolved ON pages (resolved_at)",
            # Every pager message, once: the idempotency key is the unique constraint.
            """CREATE TABLE messages (
                id {id},
                page_id {bigint} NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
                dedup_key TEXT NOT NULL,
                event_action TEXT NOT NULL CHECK (event_action IN ('trigger', 'resolve')),
                event_at {bigint} NOT NULL,
                stored_at {bigint} NOT NULL,
                summary TEXT NOT NULL,
                body TEXT NOT NULL,
                UNIQUE (dedup_key, event_action, event_at)
            )""",
            "CREATE INDEX messages_page ON messages (page_id, event_at)",
            # The group values of an episode, to find every page of an org, key, account or IP.
            """CREATE TABLE page_entities (
                page_id {bigint} NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (page_id, name)
            )""",
            "CREATE INDEX page_entities_value ON page_entities (value, name)",
            """CREATE TABLE acknowledgements (
                id {id},
                page_id {bigint} NOT NULL UNIQUE REFERENCES pages (id) ON DELETE CASCADE,
                who TEXT NOT NULL,
                note TEXT NOT NULL,
                at {bigint} NOT NULL
            )""",
            f"""CREATE TABLE verdicts (
                id {{id}},
                page_id {{bigint}} NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
                verdict TEXT NOT NULL CHECK (verdict IN ({_VERDICT_LIST})),
                note TEXT NOT NULL,
                who TEXT NOT NULL,
                at {{bigint}} NOT NULL
            )""",
            "CREATE INDEX verdicts_page ON verdicts (page_id, id)",
            # A rule (all its groups, or one group by dedup key) or an entity, muted until a time.
            """CREATE TABLE snoozes (
                id {id},
                rule_id TEXT,
                dedup_key TEXT,
                entity_name TEXT,
                entity_value TEXT,
                until_at {bigint} NOT NULL,
                reason TEXT NOT NULL,
                who TEXT NOT NULL,
                created_at {bigint} NOT NULL,
                CHECK (rule_id IS NOT NULL OR entity_value IS NOT NULL)
            )""",
            "CREATE INDEX snoozes_until ON snoozes (until_at)",
            """CREATE TABLE audit_log (
                id {id},
                at {bigint} NOT NULL,
                who TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                detail TEXT NOT NULL
            )""",
            "CREATE INDEX audit_log_at ON audit_log (at, id)",
        ),
    ),
    Migration(
        2,
        "pages.held: why an episode was kept from on-call (shadow, snoozed), or NULL",
        ("ALTER TABLE pages ADD COLUMN held TEXT",),
    ),
    Migration(
        3,
        "incidents and their pages; page_entities.source and .ordinal (parents from events)",
        (
            # One attack: what the bridge's pages said of their incident (custom_details.incident).
            """CREATE TABLE incidents (
                id TEXT PRIMARY KEY,
                root_name TEXT NOT NULL,
                root_value TEXT NOT NULL,
                root_ref TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
                opened_at {bigint} NOT NULL,
                resolved_at {bigint},
                pages INTEGER NOT NULL,
                updated_at {bigint} NOT NULL
            )""",
            "CREATE INDEX incidents_opened ON incidents (opened_at, id)",
            "CREATE INDEX incidents_state ON incidents (state, opened_at, id)",
            "CREATE INDEX incidents_root ON incidents (root_name, opened_at, id)",
            # An episode in an incident: what its latest message did there.
            """CREATE TABLE incident_pages (
                incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
                page_id {bigint} NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
                dedup_key TEXT NOT NULL,
                status TEXT NOT NULL,
                absorbed_by TEXT,
                joined_at {bigint} NOT NULL,
                last_event_at {bigint} NOT NULL,
                PRIMARY KEY (incident_id, page_id)
            )""",
            "CREATE INDEX incident_pages_page ON incident_pages (page_id)",
            # `group`: a group value (every row before this migration); `events`: a parent
            # entity the group's events named. `ordinal`: its place in custom_details.entities.
            "ALTER TABLE page_entities ADD COLUMN source TEXT NOT NULL DEFAULT 'group'"
            " CHECK (source IN ('group', 'events'))",
            "ALTER TABLE page_entities ADD COLUMN ordinal INTEGER",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at {bigint} NOT NULL
)"""


def current_version(tx: Tx) -> int:
    row = tx.one("SELECT MAX(version) FROM schema_version")
    return int(row[0]) if row and row[0] is not None else 0


def migrate(
    db: Database, migrations: tuple[Migration, ...] = MIGRATIONS, now_ms: int | None = None
) -> list[int]:
    """Bring the database to the newest migration; the versions applied now (oldest first)."""
    latest = migrations[-1].version if migrations else 0
    applied: list[int] = []
    with db.transaction() as tx:
        db.lock_schema(tx)
        tx.execute(_VERSION_TABLE.format(**db.types))
        current = current_version(tx)
        if current > latest:
            raise SchemaTooNew(
                f"{db.url.shown}: database schema version {current} is newer than this "
                f"Signalfire's ({latest}); run a Signalfire at least as new as the one that "
                "migrated it"
            )
        at = int(time.time() * 1000) if now_ms is None else now_ms
        for m in migrations:
            if m.version <= current:
                continue
            for statement in m.statements:
                tx.execute(statement.format(**db.types))
            tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, at),
            )
            applied.append(m.version)
    return applied
