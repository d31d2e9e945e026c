"""The decision log writer. In: (query, Encoded answer, latency) per decision. Out: rows in SQLite
(WAL) or JSON lines on stdout, written by one background thread in batches.

The queue and the writer thread are in log_writer.py (buffered and audit modes); this module
opens the targets and writes a batch. `flushed` counts the rows committed so far: a row counted
there survives a SIGKILL of the process (WAL, committed transaction). `close()` drains the
queue and commits what is left (the server calls it on SIGTERM, via the lifespan).

The SQLite layout keeps rows small so the writer keeps up with the server: each distinct answer
(decision, requires, cited rules, digest) is stored once in `answers`; a `decisions` row holds
the time, the query, the answer's key, the latency, the answer's `decision_id` and the request's
`traceparent` (nothing more: every column costs the writer). A file written before decision ids
existed is migrated when a server opens it (`migrate`); readers (`log_query`, `guard/replay`,
`shipping/reader`) read both versions. The `decision_log` view joins them into one row per decision with every field, the
time as ISO 8601 and the query's fields taken out of its JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable

from policy_engine.server.encode import Encoded
from policy_engine.server.log_writer import BatchingWriter, DecisionSink, Row

log = logging.getLogger("policy_engine.server")

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key            TEXT PRIMARY KEY,          -- hash of the answer's JSON
    decision       TEXT NOT NULL,             -- allow | deny | conditional
    requires       TEXT,
    would_allow_if TEXT,
    rules          TEXT NOT NULL,             -- the cited reasons, JSON
    digest         TEXT NOT NULL              -- the policy version that decided
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decisions (
    id          INTEGER PRIMARY KEY,
    ts          REAL NOT NULL,                -- unix time, seconds
    query       TEXT NOT NULL,                -- the query, JSON (the documented field order, nulls left out)
    answer      TEXT NOT NULL REFERENCES answers (key),
    latency_us  REAL NOT NULL,                -- time spent deciding, microseconds
    decision_id TEXT,                         -- the answer's `decision_id` (UUIDv7); NULL in rows of version 1
    traceparent TEXT                          -- the request's W3C trace context, when it sent a valid one
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions (ts);
"""

# Version 2 added decisions.decision_id and decisions.traceparent (a version-1 file gets them on
# open, by ALTER TABLE: its old rows keep NULL there) and the view's columns for them.
SCHEMA_VERSION = 2
VIEW = """
DROP VIEW IF EXISTS decision_log;
CREATE VIEW decision_log AS
    SELECT d.id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time,
           json_extract(d.query, '$.action') AS action, json_extract(d.query, '$.data') AS data,
           json_extract(d.query, '$.source') AS source, json_extract(d.query, '$.purpose') AS purpose,
           json_extract(d.query, '$.recipient') AS recipient, json_extract(d.query, '$.facts') AS facts,
           d.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest, d.latency_us,
           d.decision_id, d.traceparent
    FROM decisions AS d JOIN answers AS a ON a.key = d.answer;
"""
_ADDED_COLUMNS = {"decision_id": "TEXT", "traceparent": "TEXT"}

_INSERT_ROWS = "INSERT INTO decisions (ts, query, answer, latency_us, decision_id, traceparent) VALUES "
# Rows per INSERT statement: 6 parameters a row, under SQLite's limit of 32,766 (999 before 3.32).
# Every statement releases the GIL while SQLite works and must then win it back from the event
# loop, which can take a switch interval (5 ms): few, big statements keep the writer up to speed.
_CHUNK = 4096 if sqlite3.sqlite_version_info >= (3, 32) else 128


def _insert_rows(n: int, _cache: dict[int, str] = {}) -> str:  # noqa: B006  (a deliberate memo)
    """`INSERT ... VALUES (?,?,?,?),... ` for n rows. Many rows per statement: SQLite inserts them in
    C with the GIL released once, where executemany would release and retake it for every row (and,
    under load, wait for it each time)."""
    sql = _cache.get(n)
    if sql is None:
        sql = _cache[n] = _INSERT_ROWS + ",".join(["(?,?,?,round(?*1e6,3),?,?)"] * n)
    return sql
_INSERT_ANSWER = ("INSERT OR IGNORE INTO answers (key, decision, requires, would_allow_if, rules, digest) "
                  "VALUES (?, ?, ?, ?, ?, ?)")
_FIELDS = ("action", "data", "source", "purpose", "recipient", "destination", "facts", "at", "collected_at")
# A subject question's row also keeps the subject and the store records it rested on.
_SUBJECT_FIELDS = ("subject", "evidence")


def query_text(query: dict[str, Any]) -> str:
    """A query's JSON text as the log stores it: the documented field order, nulls left out."""
    fields = _FIELDS + _SUBJECT_FIELDS if "subject" in query else _FIELDS
    return json.dumps({k: query[k] for k in fields if query.get(k) is not None}, separators=(",", ":"),
                      ensure_ascii=False)
_MEMO_LIMIT = 50_000

def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class QueryText:
    """query -> its JSON text, the documented field order, nulls left out; memoised (services repeat questions)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], str] = {}

    def __call__(self, query: Any) -> str:
        if type(query) is str:  # already the text (the server's memo made it once per question)
            return query
        if hasattr(query, "model_dump"):
            query = query.model_dump(mode="json", exclude_none=True)
        if not isinstance(query, dict):
            return json.dumps(query)
        if "subject" in query:  # each subject question's evidence is its own: not memoised
            return query_text(query)
        get = query.get
        facts = get("facts")
        try:
            key = (get("action"), get("data"), get("source"), get("purpose"), get("recipient"),
                   None if facts is None else tuple(facts.items()) if type(facts) is dict else tuple(facts),
                   get("at"), get("collected_at"), get("destination"))
            text = self._memo.get(key)
        except TypeError:  # unhashable: only a query the engine refused could hold one
            key, text = None, None
        if text is None:
            text = query_text(query)
            if key is not None:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[key] = text
        return text


class SqliteDecisionLog(BatchingWriter):
    """Rows in a SQLite file in WAL mode; one transaction per batch."""

    def __init__(self, path: str | os.PathLike[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._query_text = QueryText()
        self._stored: set[str] = set()  # answer keys known to be in the file

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = open_db(self.path, durable=self.mode == "audit")

    def _write(self, batch: list[Row]) -> None:
        assert self._conn is not None
        text = self._query_text
        stored = self._stored
        params: list[Any] = []  # flat: 6 a row (the latency is rounded to 0.001 us by SQLite)
        put = params.extend
        new: dict[str, Encoded] = {}
        for ts, query, enc, latency, decision_id, traceparent in batch:
            key = enc.key
            put((ts, query if type(query) is str else text(query), key, latency, decision_id, traceparent))
            if key not in stored and key not in new:
                new[key] = enc
        n = len(batch)
        with self._conn:  # one transaction: all rows of the batch or none
            if new:
                self._conn.executemany(_INSERT_ANSWER, [(e.key, e.label, e.requires, e.would_allow_if, e.rules,
                                                         e.digest) for e in new.values()])
            pos, size = 0, _CHUNK
            while pos < n:  # chunks of _CHUNK, then halves: a handful of distinct (cached) statements
                while size > n - pos:
                    size //= 2
                self._conn.execute(_insert_rows(size), params[pos * 6:(pos + size) * 6])
                pos += size
        if len(stored) >= _MEMO_LIMIT:
            stored.clear()
        stored.update(new)

    def _shutdown(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
            self._conn.close()


def create_private(path: str | os.PathLike[str]) -> None:
    """Create the file readable by its owner only (0600), whatever the umask, unless it exists. The
    log holds every question asked; SQLite gives its -wal and -shm files the same permissions."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o077:
            log.warning("decision log %s is readable by others (mode %o); `chmod 600` it", path, mode)
        return
    os.close(fd)


def open_db(path: str | os.PathLike[str], durable: bool = False) -> sqlite3.Connection:
    """Open (creating if needed, 0600) a decision log database in WAL mode. `durable`: fsync every commit
    (synchronous=FULL: a committed row survives power loss too), else synchronous=NORMAL (a committed
    row survives a crash of the process; the OS writes it out)."""
    create_private(path)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level="DEFERRED")
    conn.execute("PRAGMA busy_timeout = 10000")  # several workers may share one file
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch {path} to WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    with conn:
        conn.executescript(SCHEMA)
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a log written by an older server to SCHEMA_VERSION, in one IMMEDIATE transaction (the
    workers of `--workers N` open the same file at once: one migrates, the others then see it done)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            have = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE decisions ADD COLUMN {column} {kind}")
            for statement in VIEW.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class JsonLinesDecisionLog(BatchingWriter):
    """One JSON object per decision on stdout (`--decision-log -`), flushed per batch."""

    def __init__(self, stream: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._stream = stream
        self._query_text = QueryText()

    def _open(self) -> None:
        if self._stream is None:
            self._stream = sys.stdout

    def _write(self, batch: list[Row]) -> None:
        lines = []
        for ts, query, enc, latency, decision_id, traceparent in batch:
            q = self._query_text(query)
            if type(query) is str:
                query = json.loads(query)
            facts = query.get("facts") if isinstance(query, dict) else getattr(query, "facts", None)
            lines.append(
                f'{{"time":"{iso_time(ts)}","ts":{ts!r},"decision_id":"{decision_id}",'
                f'"traceparent":{json.dumps(traceparent)},"query":{q},"facts":{json.dumps(facts)},'
                f'"decision":"{enc.label}",'
                f'"requires":{json.dumps(enc.requires)},"would_allow_if":{json.dumps(enc.would_allow_if)},'
                f'"rules":{enc.rules},"digest":"{enc.digest}","latency_us":{round(latency * 1e6, 3)!r}}}\n')
        self._stream.write("".join(lines))
        self._stream.flush()


class NullDecisionLog:
    """`--no-decision-log`."""

    flushed = 0
    dropped = 0
    high_water = 1 << 62

    def record(self, query: Any, decision: Encoded, latency_s: float, decision_id: str | None = None,
               traceparent: str | None = None) -> None:
        pass

    def record_many(self, rows: list[tuple[Any, Encoded, float, str]],
                    traceparent: str | None = None) -> Awaitable[None] | None:
        return None

    def pending(self) -> int:
        return 0

    def healthy(self) -> bool:
        return True

    def close(self, timeout: float = 30.0) -> None:
        pass


def open_decision_log(target: str | None, **kwargs: Any) -> DecisionSink:
    """None -> no log; "-" -> JSON lines on stdout; anything else -> a SQLite file."""
    if target is None:
        return NullDecisionLog()
    if target == "-":
        return JsonLinesDecisionLog(**kwargs).start()
    return SqliteDecisionLog(target, **kwargs).start()
