"""The dialect layer: one small interface over stdlib sqlite3 and psycopg 3.

SQL is written once with `?` placeholders and portable types; a dialect turns the placeholders
into its driver's and names the few types that differ. Driver errors leave this module as one
of two kinds: `StoreUnavailable` (worth another try: the server is down, the file is locked)
or `StoreRefused` (this data can never be written). Their messages never hold a password.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from alerting.store.url import MEMORY, StoreUrl

Row = tuple[Any, ...]
Params = Sequence[object]
BUSY_TIMEOUT_S = 5.0  # a write waits this long for another writer's lock


class StoreError(Exception):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy: the same write may succeed later."""


class StoreConflict(StoreUnavailable):
    """Another writer stored the same row first: a new try finds it there."""


class StoreRefused(StoreError):
    """The database refuses this data for good (not a valid value for its column)."""


class Tx(ABC):
    """One transaction: statements run in order, committed together or not at all."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; the number of rows it changed."""

    @abstractmethod
    def all(self, sql: str, params: Params = ()) -> list[Row]: ...

    def one(self, sql: str, params: Params = ()) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT ... RETURNING id; the new row's id."""
        row = self.one(sql, params)
        assert row is not None, "an INSERT ... RETURNING gives its row"
        return int(row[0])


class Database(ABC):
    dialect: ClassVar[str]
    # Column types that differ between the dialects, by the name migrations use for them.
    types: ClassVar[Mapping[str, str]]

    def __init__(self, url: StoreUrl) -> None:
        self.url = url

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[Tx]:
        """A context manager: a transaction that commits on exit, rolls back on an error.

        A writing one takes SQLite's write lock at once (BEGIN IMMEDIATE), so two writers never
        deadlock upgrading read locks; a reading one (`write=False`) never blocks a writer."""

    @abstractmethod
    def lock_schema(self, tx: Tx) -> None:
        """Serialise schema migrations of processes opening the same database at once."""

    @abstractmethod
    def close(self) -> None: ...


class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()


class SqliteDatabase(Database):
    dialect = "sqlite"
    types: ClassVar[Mapping[str, str]] = {"id": "INTEGER PRIMARY KEY", "bigint": "INTEGER"}

    def __init__(self, url: StoreUrl, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        super().__init__(url)
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            path = self.url.target
            if path != MEMORY:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # The store's one worker thread uses it, but not the thread that opened it.
            conn = sqlite3.connect(
                path, isolation_level=None, timeout=self._busy_timeout_s, check_same_thread=False
            )
            conn.execute("PRAGMA foreign_keys = ON")
            if path != MEMORY:
                conn.execute("PRAGMA journal_mode = WAL")  # readers (a console) never block it
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        try:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise _sqlite_error(exc, self.url) from None
        except OSError as exc:  # its directory cannot be made
            raise StoreUnavailable(f"sqlite {self.url.target}: {exc.strerror}") from None
        try:
            yield _SqliteTx(conn)
        except sqlite3.Error as exc:
            conn.rollback()
            raise _sqlite_error(exc, self.url) from None
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.rollback()
            raise _sqlite_error(exc, self.url) from None

    def lock_schema(self, tx: Tx) -> None:
        return None  # BEGIN IMMEDIATE holds the file's write lock already

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _sqlite_error(exc: sqlite3.Error, url: StoreUrl) -> StoreError:
    text = f"sqlite {url.target}: {exc}"
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreConflict(text)
    if isinstance(exc, sqlite3.DataError | sqlite3.ProgrammingError):
        return StoreRefused(text)
    return StoreUnavailable(text)  # locked, full, unreadable: a later try may succeed
