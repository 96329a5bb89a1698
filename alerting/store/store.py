"""The page store: every pager message in a database, as episodes a console can show.

    store = open_store("sqlite:///var/signalfire/pages.db")   # or postgresql://...
    store.record(message)                                    # idempotent
    store.list_pages(PageFilter(rule="api_key_burst", state="triggered"), limit=50)
    store.page(page_id)                                      # the episode, its messages, verdicts
    store.list_incidents(IncidentFilter(state="open"))       # incidents the bridge's pages named
    store.incident(incident_id)                              # its episodes and their entities

Opening applies pending migrations (`alerting.store.migrations`). A Store is not thread-safe:
use it from one thread at a time (the bridge's store sink gives it a thread of its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from alerting.pager import PagerMessage
from alerting.store.db import Database, SqliteDatabase, StoreConflict, StoreUnavailable, Tx
from alerting.store.incidents import (
    incident_detail,
    incident_roots,
    list_incidents,
    page_incidents,
    purge_incidents,
)
from alerting.store.migrations import VERDICTS, current_version, migrate
from alerting.store.model import (
    Acknowledgement,
    AuditEntry,
    EntityEpisode,
    IncidentDetail,
    IncidentFilter,
    IncidentList,
    PageDetail,
    PageFilter,
    PageList,
    Purged,
    Recorded,
    Snooze,
    TriageFact,
    Verdict,
    VerdictName,
)
from alerting.store.postgres import PostgresDatabase
from alerting.store.quality import entity_episodes, triage_facts
from alerting.store.queries import list_pages, page_detail
from alerting.store.record import record_row
from alerting.store.rows import MessageRow, message_row
from alerting.store.url import StoreUrl, parse_store_url

Clock = Callable[[], float]
ALL = PageFilter()
ANY_INCIDENT = IncidentFilter()
LOCKED_RETRY_S = 0.05


def open_store(
    url: str | StoreUrl,
    *,
    base: Path | None = None,
    clock: Clock = time.time,
    connect_timeout_s: float = 10.0,
) -> Store:
    """A store on `url`, migrated to this code's schema.

    Raises StoreUrlError for a URL it cannot use, SchemaTooNew for a database a newer
    Signalfire migrated, StoreUnavailable when the database cannot be reached (in
    `connect_timeout_s`; for SQLite: its file is locked that long).
    """
    parsed = url if isinstance(url, StoreUrl) else parse_store_url(url, base)
    db: Database = (
        SqliteDatabase(parsed, connect_timeout_s)
        if parsed.dialect == "sqlite"
        else PostgresDatabase(parsed, connect_timeout_s)
    )
    deadline = time.monotonic() + connect_timeout_s
    while True:
        try:
            migrate(db, now_ms=int(clock() * 1000))
            return Store(db, clock)
        except StoreUnavailable:
            # SQLite can answer "locked" at once, not after its busy wait, while other
            # connections create the same new file (switching it to WAL): try again, as long
            # as a locked file is waited for.
            db.close()
            if parsed.dialect != "sqlite" or time.monotonic() >= deadline:
                raise
            time.sleep(LOCKED_RETRY_S)
        except BaseException:
            db.close()
            raise


class Store:
    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self.db = db
        self._clock = clock

    @property
    def url(self) -> str:
        """The database URL as logs may show it (no password)."""
        return self.db.url.shown

    def close(self) -> None:
        self.db.close()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def schema_version(self) -> int:
        with self.db.transaction(write=False) as tx:
            return current_version(tx)

    # -- the bridge's write ------------------------------------------------------------------
    def record(self, message: PagerMessage) -> Recorded:
        """Store `message` once, into its episode.

        Raises Unstorable for a message that can never be stored (before anything is written),
        StoreUnavailable when the database is down or busy (nothing is written; try again).
        """
        return self.record_row(message_row(message))

    def record_row(self, row: MessageRow) -> Recorded:
        """`record` of a message already checked into its row (`alerting.store.rows`)."""
        try:
            with self.db.transaction() as tx:
                return record_row(tx, row, self._now())
        except StoreConflict:
            # Another writer stored it (or opened the episode) between our read and write:
            # once more, now that its row is visible.
            with self.db.transaction() as tx:
                return record_row(tx, row, self._now())

    # -- the console's reads -----------------------------------------------------------------
    def list_pages(
        self, where: PageFilter = ALL, *, limit: int = 50, after: str | None = None
    ) -> PageList:
        """Episodes matching `where`, newest first; pass `next` back as `after` for more."""
        with self.db.transaction(write=False) as tx:
            return list_pages(tx, where, limit, after)

    def pages_of(
        self, value: str, name: str | None = None, *, limit: int = 50, after: str | None = None
    ) -> PageList:
        """Episodes whose group holds `value` (in field `name`, when given)."""
        return self.list_pages(PageFilter(entity=value, entity_name=name), limit=limit, after=after)

    def page(self, page_id: int) -> PageDetail | None:
        with self.db.transaction(write=False) as tx:
            detail = page_detail(tx, page_id)
            if detail is None:
                return None
            return replace(detail, incidents=page_incidents(tx, page_id))

    def list_incidents(
        self, where: IncidentFilter = ANY_INCIDENT, *, limit: int = 50, after: str | None = None
    ) -> IncidentList:
        """Incidents matching `where`, newest opened first; pass `next` back as `after`."""
        with self.db.transaction(write=False) as tx:
            return list_incidents(tx, where, limit, after)

    def incident(self, incident_id: str) -> IncidentDetail | None:
        """One incident with its episodes (in the order they joined) and their entities."""
        with self.db.transaction(write=False) as tx:
            return incident_detail(tx, incident_id)

    def incident_roots(self) -> tuple[str, ...]:
        """The root fields (`org_id`, `ip`, ...) the stored incidents have, sorted."""
        with self.db.transaction(write=False) as tx:
            return incident_roots(tx)

    def triage_facts(self, since_ms: int, until_ms: int) -> list[TriageFact]:
        """Per episode started in [since_ms, until_ms): its rule, severity, start, first
        acknowledgement, first verdict and standing verdict (alerting.quality reads them)."""
        with self.db.transaction(write=False) as tx:
            return triage_facts(tx, since_ms, until_ms)

    def entity_episodes(self, since_ms: int, until_ms: int, *, shadow: bool) -> list[EntityEpisode]:
        """Episodes whose span meets [since_ms, until_ms), with their entities: a shadow rule's,
        or (shadow False) every other (alerting.quality's shadow projection reads both)."""
        with self.db.transaction(write=False) as tx:
            return entity_episodes(tx, since_ms, until_ms, shadow=shadow)

    # -- the console's writes: each one audited in the same transaction ---------------------
    def acknowledge(self, page_id: int, who: str, note: str = "") -> Acknowledgement:
        """Acknowledge an episode; the first acknowledgement stands and is returned again."""
        now = self._now()
        with self.db.transaction() as tx:
            _require_page(tx, page_id)
            found = tx.one(
                "SELECT page_id, who, note, at FROM acknowledgements WHERE page_id = ?", (page_id,)
            )
            if found is not None:
                return Acknowledgement(*found)
            tx.execute(
                "INSERT INTO acknowledgements (page_id, who, note, at) VALUES (?, ?, ?, ?)",
                (page_id, who, note, now),
            )
            _audit(tx, now, who, ("acknowledge", f"page:{page_id}"), {"note": note})
            return Acknowledgement(page_id, who, note, now)

    def verdict(self, page_id: int, verdict: VerdictName, who: str, note: str = "") -> Verdict:
        """Record a verdict on an episode; a later verdict supersedes, the history stays."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
        now = self._now()
        with self.db.transaction() as tx:
            _require_page(tx, page_id)
            verdict_id = tx.insert(
                "INSERT INTO verdicts (page_id, verdict, note, who, at) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                (page_id, verdict, note, who, now),
            )
            detail = {"verdict": verdict, "note": note}
            _audit(tx, now, who, ("verdict", f"page:{page_id}"), detail)
            return Verdict(verdict_id, page_id, verdict, note, who, now)

    def snooze(
        self,
        *,
        until_ms: int,
        reason: str,
        who: str,
        rule_id: str | None = None,
        dedup_key: str | None = None,
        entity_value: str | None = None,
        entity_name: str | None = None,
    ) -> Snooze:
        """Mute a rule (all groups, or the one of `dedup_key`) or an entity until a time."""
        if rule_id is None and entity_value is None:
            raise ValueError("snooze a rule (rule_id, maybe dedup_key) or an entity_value")
        if dedup_key is not None and rule_id is None:
            raise ValueError("a dedup_key snooze names its rule_id too")
        now = self._now()
        with self.db.transaction() as tx:
            snooze_id = tx.insert(
                "INSERT INTO snoozes (rule_id, dedup_key, entity_name, entity_value, until_at,"
                " reason, who, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (rule_id, dedup_key, entity_name, entity_value, until_ms, reason, who, now),
            )
            target = f"rule:{rule_id}" if rule_id is not None else f"entity:{entity_value}"
            _audit(tx, now, who, ("snooze", target), {"until": until_ms, "reason": reason})
        return Snooze(
            snooze_id, rule_id, dedup_key, entity_name, entity_value, until_ms, reason, who, now
        )

    def lift_snooze(self, snooze_id: int, who: str) -> Snooze:
        """End a snooze now (it stays in the history, ended); KeyError if there is none."""
        now = self._now()
        with self.db.transaction() as tx:
            row = tx.one(
                "SELECT id, rule_id, dedup_key, entity_name, entity_value, until_at, reason, who,"
                " created_at FROM snoozes WHERE id = ?",
                (snooze_id,),
            )
            if row is None:
                raise KeyError(f"no snooze {snooze_id}")
            tx.execute(
                "UPDATE snoozes SET until_at = ? WHERE id = ? AND until_at > ?",
                (now, snooze_id, now),
            )
            _audit(tx, now, who, ("lift snooze", f"snooze:{snooze_id}"), {"reason": row[6]})
        return Snooze(*row)

    def snoozes(self, active_at_ms: int | None = None) -> list[Snooze]:
        """Snoozes still in force at `active_at_ms` (now by default), soonest to end first."""
        at = self._now() if active_at_ms is None else active_at_ms
        with self.db.transaction(write=False) as tx:
            rows = tx.all(
                "SELECT id, rule_id, dedup_key, entity_name, entity_value, until_at, reason, who,"
                " created_at FROM snoozes WHERE until_at > ? ORDER BY until_at, id",
                (at,),
            )
        return [Snooze(*r) for r in rows]

    def audit_log(self, *, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Audit entries, newest first; pass the last id back as `before_id` for more."""
        with self.db.transaction(write=False) as tx:
            rows = tx.all(
                "SELECT id, at, who, action, target, detail FROM audit_log WHERE id < ?"
                " ORDER BY id DESC LIMIT ?",
                (before_id if before_id is not None else 2**62, limit),
            )
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5])) for r in rows]

    def audit(self, who: str, action: str, target: str, detail: dict[str, Any]) -> None:
        """An action that changes no page (a login, a logout), in the audit log."""
        now = self._now()
        with self.db.transaction() as tx:
            _audit(tx, now, who, (action, target), detail)

    # -- retention ---------------------------------------------------------------------------
    def purge(self, retention_ms: int) -> Purged:
        """Delete episodes whose last message is older than `retention_ms` (with their messages,
        entities, acknowledgements, verdicts and places in incidents), the incidents none of
        whose episodes is left, and snoozes that ended that long ago.

        The audit log is kept: it records who did what, which outlives the pages.
        """
        if retention_ms <= 0:
            raise ValueError("retention must be more than zero")
        cutoff = self._now() - retention_ms
        with self.db.transaction() as tx:
            pages = tx.execute("DELETE FROM pages WHERE last_event_at < ?", (cutoff,))
            snoozes = tx.execute("DELETE FROM snoozes WHERE until_at < ?", (cutoff,))
            incidents = purge_incidents(tx) if pages else 0
        return Purged(pages, snoozes, incidents)


def _require_page(tx: Tx, page_id: int) -> None:
    if tx.one("SELECT 1 FROM pages WHERE id = ?", (page_id,)) is None:
        raise KeyError(f"no page {page_id}")


def _audit(tx: Tx, at: int, who: str, what: tuple[str, str], detail: dict[str, Any]) -> None:
    action, target = what
    tx.execute(
        "INSERT INTO audit_log (at, who, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (at, who, action, target, orjson.dumps(detail).decode()),
    )
