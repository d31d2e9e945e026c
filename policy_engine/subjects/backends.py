"""The two databases behind the subject store: SQLite (one file, the default) and PostgreSQL
(psycopg 3, for fleets of server processes sharing one database).

Both speak the same SQL written once with `?` placeholders; the PostgreSQL backend turns them into
`%s`. A backend hands out one connection per thread (the server answers in a thread pool) and runs
each unit of work in one transaction: `with backend.transaction() as tx: tx.execute(...)`. A
database that cannot be reached raises StoreUnavailable, which the server answers with 503.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from policy_engine.subjects import current
from policy_engine.subjects.model import StoreUnavailable, format_time, utc_now

# PostgreSQL: one advisory lock key for "someone is migrating"; concurrent starters wait for it.
_MIGRATION_LOCK = 0x5E1EC7
# A migration that also fills what its statements created, in the same transaction.
_AFTER = {3: current.rebuild}


def migrations() -> list[tuple[int, str]]:
    """The numbered migrations shipped with the package, in order: [(1, sql), ...]."""
    found = []
    for entry in resources.files("policy_engine.subjects").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def statements(sql: str) -> list[str]:
    """A migration file's statements (the files hold no `;` inside strings), comments dropped."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class Tx:
    """One transaction's cursor: `execute` returns all rows (tuples); `rowcount` of the last one."""

    def __init__(self, cursor: Any, dialect: str):
        self._cur = cursor
        self.dialect = dialect
        self.rowcount = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        self._cur.execute(sql, tuple(params))
        self.rowcount = self._cur.rowcount
        if self._cur.description is None:
            return []
        return [tuple(row) for row in self._cur.fetchall()]


class Backend:
    dialect = ""
    serial = ""
    url = ""

    def __init__(self) -> None:
        self._local = threading.local()

    def _connect(self) -> Any:
        raise NotImplementedError

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped anyway
                pass

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Tx]:
        """One transaction; `write=False` for reads (SQLite: readers never wait for the write lock);
        `snapshot=True`: every statement sees the same snapshot (SQLite's read transactions always
        do; PostgreSQL runs it REPEATABLE READ)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def migrate(self) -> int:
        """Apply the migrations this database has not seen, each in its own transaction, and return
        the schema version. Safe to run from several processes at once."""
        version = 0
        for number, sql in migrations():
            with self.transaction() as tx:
                if self.dialect == "postgresql":
                    tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
                tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                           "applied_at TEXT NOT NULL)")
                done = {row[0] for row in tx.execute("SELECT version FROM schema_version")}
                if number not in done:
                    words = {"serial": self.serial, **current.SCHEMA_WORDS[self.dialect]}
                    for statement in statements(sql):
                        tx.execute(re.sub(r"\{(\w+)\}", lambda m: words[m.group(1)], statement))
                    if number in _AFTER:
                        _AFTER[number](tx, self.dialect)
                    tx.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                               (number, format_time(utc_now())))
            version = number
        return version

    def close(self) -> None:
        self._drop()


class SqliteBackend(Backend):
    """WAL and synchronous=FULL: a write is on disk when it is acknowledged (the decision log may
    lose its last batch; the subject store holds consent records and may not). The file is 0600."""

    dialect = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__()
        self.path = str(path)
        self.url = self.path

    def _connect(self) -> sqlite3.Connection:
        try:
            if not os.path.exists(self.path):
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA busy_timeout = 30000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreUnavailable(f"cannot switch the subject store {self.path} to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as err:
            raise StoreUnavailable(f"cannot open the subject store {self.path}: {err}") from None
        return conn

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Tx]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # writers queue up here, not half way through
        except sqlite3.Error as err:
            self._drop()
            raise StoreUnavailable(f"the subject store {self.path} is unavailable: {err}") from None
        try:
            yield Tx(conn.cursor(), self.dialect)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            self._drop()
            raise StoreUnavailable(f"the subject store {self.path} could not commit: {err}") from None


class PostgresBackend(Backend):
    """psycopg 3; each transaction is READ COMMITTED, and the writes that must not race (an event
    against a tombstone) take a per-subject advisory lock in store.py."""

    dialect = "postgresql"
    serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str, connect_timeout: int = 5):
        super().__init__()
        self.url = url
        self.connect_timeout = connect_timeout

    def _connect(self) -> Any:
        try:
            import psycopg
        except ModuleNotFoundError:
            raise StoreUnavailable("a postgresql:// subject store needs psycopg, which is not installed; install "
                                   "it with: pip install 'policy-engine[postgresql]'") from None
        try:
            return psycopg.connect(self.url, connect_timeout=self.connect_timeout)
        except psycopg.Error as err:
            raise StoreUnavailable(f"cannot connect to the subject store: {_first_line(err)}") from None

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Tx]:
        import psycopg

        conn = self._conn()
        try:
            with conn.transaction():
                with conn.cursor() as cur:
                    if snapshot:
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    yield Tx(cur, self.dialect)
        except (psycopg.OperationalError, psycopg.InterfaceError) as err:
            self._drop()
            raise StoreUnavailable(f"the subject store is unavailable: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def open_backend(url: str) -> Backend:
    """`postgresql://...` (or `postgres://`) -> PostgreSQL; anything else is a SQLite file path
    (`sqlite:///path` is accepted too)."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite://"):]
    return SqliteBackend(url)
