"""The SQLite decision log's layout: the tables, the `decision_log` view, the migration of older
files, and the SQL every reader uses to see one row per decision whatever the file's version.

Why a batch request is one row (version 3): the writer shares the GIL with the event loop, and
at hundreds of thousands of decisions a second a row per decision (its parameters, its index
entry) cost more than deciding. A `decisions` row with `n` set holds the n answers of one batch
request: `query` is the JSON array of their queries' ids in `queries` (each distinct query text
is stored once there), `answer` the JSON array of their answers' ids in `answers` (version 4; in a
row written by version 3, of their answer keys), `decision_id` the first one's id, `decision_ids`
their ids (the JSON array of them, or, when they count up by one, an integer: the first id's last
12 hex digits, so the k-th id is the first's 24 leading characters and that number plus k, in 12
hex digits), `latencies_s` their latencies in seconds (a blob of n float32, little-endian, or of
one when all n are the same, as the answers of one request from the server's memo are),
`latency_us` their sum; `ts` and `traceparent` are the request's. A row with `n` NULL is one
decision, as in versions 1 and 2 (its `answer` the answer's key). The writer also folds
single-decision requests of one millisecond into such a row (log_fold.py; `ts` is then the first
one's, `traceparent` NULL). Why so compact: every byte costs the writer, which shares the GIL with
the event loop and the cores with everything else (measured: about 1.5 ns a byte in SQLite, and as
much again when the WAL is checkpointed into the file; formatting a float as text costs more than
deciding a remembered question). Why answer ids (version 4): an answer key is 32 hex digits, so in
version 3 the keys were 35 of the 43 bytes a batched decision took; an id is one to three digits.
Why pairs (version 5): a batch row of version 5 names each decision by one id, that of its (query,
answer) pair in `pairs`, in `query` (its `answer` is ''), where version 4 named each by two, a query
id and an answer id, in two arrays. The server keeps the pair of each remembered question as one
object, so the row's array is one C-level pass over the answers and one join (measured: 2.6 µs for a
batch of 100, against 9.5 µs for the two arrays and the zip that split them), and about 3.5 bytes a
decision fewer go into the file. Ids stay one per decision: a row's `id` is the id of its last decision, and its n decisions have
the ids `id - n + 1` to `id`, in the order they were asked (the writer gives a batch row its id;
a one-decision row takes the next rowid, as before). So "the decisions after id X" are exactly
the rows with `id > X`, through the primary key, which is how the readers page.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id             INTEGER PRIMARY KEY,       -- what a batch row names the answer by (version 4)
    key            TEXT NOT NULL UNIQUE,      -- hash of the answer's JSON; what a one-decision row names it by
    decision       TEXT NOT NULL,             -- allow | deny | conditional
    requires       TEXT,
    would_allow_if TEXT,
    rules          TEXT NOT NULL,             -- the cited reasons, JSON
    digest         TEXT NOT NULL              -- the policy version that decided
);
CREATE TABLE IF NOT EXISTS queries (
    id             INTEGER PRIMARY KEY,
    query          TEXT NOT NULL UNIQUE       -- a query's JSON text, as decisions.query holds it
);
CREATE TABLE IF NOT EXISTS pairs (            -- a question and the answer it got (version 5)
    id             INTEGER PRIMARY KEY,       -- what a batch row of version 5 names the decision by
    query          INTEGER NOT NULL,          -- queries.id
    answer         INTEGER NOT NULL,          -- answers.id
    UNIQUE (query, answer)
);
CREATE TABLE IF NOT EXISTS decisions (
    id           INTEGER PRIMARY KEY,         -- the id of the row's last decision
    ts           REAL NOT NULL,               -- unix time, seconds
    query        TEXT NOT NULL,               -- the query, JSON (the documented field order, nulls left out); n set: the JSON
                                              -- array of their pairs.id (of their queries.id in rows written by versions 3-4)
    answer       TEXT NOT NULL,               -- the answer's key (answers.key); n set: '' (the pairs name the answers), or,
                                              -- in rows written by version 4, the JSON array of their answers.id (3: keys)
    latency_us   REAL NOT NULL,               -- time spent deciding, microseconds (n set: the sum)
    decision_id  TEXT,                        -- the answer's `decision_id` (UUIDv7); NULL in rows of version 1; n set: the first
    traceparent  TEXT,                        -- the request's W3C trace context, when it sent a valid one
    n            INTEGER,                     -- NULL: one decision; else the row holds a batch request's n decisions
    latencies_s  BLOB,                        -- n set: the decisions' latencies, seconds, n float32 little-endian
                                              -- (one when all n are equal)
    decision_ids                              -- n set: the JSON array of the decisions' ids, or an integer (see above;
                                              -- no declared type, so SQLite keeps either as it is)
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions (ts);
"""

# Version 2 added decisions.decision_id and .traceparent; version 3 added n, latencies_s and
# decision_ids (batch rows) and the queries table (SCHEMA creates it in any file); version 4 gave
# each answer an integer id (the table rebuilt with the same rows: `answers.id` is its rowid) that
# the batch rows it writes name their answers by; version 5 added the pairs table (SCHEMA creates it)
# that the batch rows it writes name their decisions by. An older file gets the missing columns on
# open, by ALTER TABLE (its old rows keep NULL there, which reads as they did), its answers their
# ids, and the view of this version, which reads the rows of every version.
SCHEMA_VERSION = 5
_ADDED_COLUMNS = {"decision_id": "TEXT", "traceparent": "TEXT", "n": "INTEGER", "latencies_s": "BLOB",
                  "decision_ids": ""}

_TIME = "strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time"
_ANSWER = "a.decision, a.requires, a.would_allow_if, a.rules, a.digest"


def _fields(query: str) -> str:
    return ", ".join(f"json_extract({query}, '$.{f}') AS {f}"
                     for f in ("action", "data", "source", "purpose", "recipient", "facts"))


_BYTES = "X'" + bytes(range(256)).hex() + "'"


def _byte(blob: str, at: str) -> str:
    """SQL: the value (0-255) of the byte at 1-based position `at` of a blob (instr in a blob of every byte)."""
    return f"(instr({_BYTES}, substr({blob}, {at}, 1)) - 1)"


def _float32(blob: str, index: str) -> str:
    """SQL: element `index` (0-based) of a blob of little-endian float32, for values >= 0 (latencies),
    with core SQLite only (no math functions): (2^23 + mantissa) * 2^(exponent - 150)."""
    at = f"4 * ({index})"
    bits = " + ".join(f"{_byte(blob, f'{at} + {i + 1}')} * {1 << (8 * i)}" for i in range(4))
    e, m = f"((({bits}) >> 23) & 255)", f"(({bits}) & 8388607)"
    return (f"(CASE WHEN {e} < 88 THEN 0.0 WHEN {e} >= 150 THEN (8388608 + {m}) * (1 << ({e} - 150)) "
            f"ELSE (8388608 + {m}) / CAST(1 << (150 - {e}) AS REAL) END)")


_ELEMENT = "json_extract(d.answer, '$[' || r.key || ']')"
# A batch row's k-th answer: an id (version 4) or a key (version 3). The key's lookup is a subquery, so
# the join itself is on the primary key either way.
_ANSWER_OF = {True: f"a.id = CASE WHEN typeof({_ELEMENT}) = 'integer' THEN {_ELEMENT} "
                    f"ELSE (SELECT id FROM answers WHERE key = {_ELEMENT}) END",
              False: f"a.key = {_ELEMENT}"}  # a file of version 3 no server has migrated: keys only
# One float32 for the n latencies when they are equal (4 bytes): then element 0 for every decision.
_LATENCY = f"round({_float32('d.latencies_s', 'CASE WHEN length(d.latencies_s) = 4 THEN 0 ELSE r.key END')} * 1e6, 3)"

_ID = ("CASE WHEN typeof(d.decision_ids) = 'integer' "
       "THEN substr(d.decision_id, 1, 24) || printf('%012x', d.decision_ids + r.key) "
       "ELSE json_extract(d.decision_ids, '$[' || r.key || ']') END")

# {rows}: a condition on `d` (a decisions row), e.g. a ts or id range, applied before expansion.
_ONE = (f"SELECT d.id, d.ts, {_TIME}, {_fields('d.query')}, d.query, {_ANSWER}, d.latency_us, "
        "d.decision_id, d.traceparent "
        "FROM decisions AS d JOIN answers AS a ON a.key = d.answer WHERE d.n IS NULL{rows}")


def _many(answer_ids: bool) -> str:
    """SQL: the decisions of batch rows of versions 3 and 4 (two arrays: query ids, answer ids or
    keys), one row each; {rows} as in _ONE. `answer_ids`: whether the file's answers have ids
    (version 4)."""
    return (f"SELECT d.id - d.n + 1 + r.key AS id, d.ts, {_TIME}, {_fields('q.query')}, q.query, {_ANSWER}, "
            f"{_LATENCY} AS latency_us, {_ID} AS decision_id, d.traceparent "
            "FROM decisions AS d JOIN json_each(d.query) AS r JOIN queries AS q ON q.id = r.value "
            f"JOIN answers AS a ON {_ANSWER_OF[answer_ids]} WHERE d.n IS NOT NULL AND d.answer <> ''{{rows}}")


# Version 5's batch rows (one array of pair ids in `query`), and a pair's query and answer ({pair}: its id).
_PAIRED_ROWS = "d.n IS NOT NULL AND d.answer = ''"
_PAIR_OF = ("JOIN pairs AS p ON p.id = {pair} JOIN queries AS q ON q.id = p.query "
            "JOIN answers AS a ON a.id = p.answer")
# The decisions of batch rows of version 5, one row each; {rows} as in _ONE.
_PAIRED = (f"SELECT d.id - d.n + 1 + r.key AS id, d.ts, {_TIME}, {_fields('q.query')}, q.query, {_ANSWER}, "
           f"{_LATENCY} AS latency_us, {_ID} AS decision_id, d.traceparent "
           f"FROM decisions AS d JOIN json_each(d.query) AS r {_PAIR_OF.format(pair='r.value')} "
           f"WHERE {_PAIRED_ROWS}{{rows}}")
_MANY = _many(True)
VIEW = f"""
DROP VIEW IF EXISTS decision_log;
CREATE VIEW decision_log AS
    {_ONE.format(rows="")}
    UNION ALL
    {_MANY.format(rows="")}
    UNION ALL
    {_PAIRED.format(rows="")};
"""
# Version 4's answers, for a file whose answers table has no ids: rebuilt with the same rows (the
# view that reads it is dropped first and made again after).
_ANSWER_COLUMNS = "key, decision, requires, would_allow_if, rules, digest"
_REBUILD_ANSWERS = (
    "DROP VIEW IF EXISTS decision_log",
    SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS answers"):SCHEMA.index(");") + 1].replace(
        "IF NOT EXISTS answers", "answers_v4"),
    f"INSERT INTO answers_v4 ({_ANSWER_COLUMNS}) SELECT {_ANSWER_COLUMNS} FROM answers",
    "DROP TABLE answers",
    "ALTER TABLE answers_v4 RENAME TO answers",
)

def columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}


def has_batch_rows(conn: sqlite3.Connection) -> bool:
    """Whether the file has the version-3 layout or later (it may then hold batch rows)."""
    return "n" in columns(conn)


def has_pairs(conn: sqlite3.Connection) -> bool:
    """Whether the file has the pairs table (version 5, or a file any server of version 5 opened)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pairs'").fetchone() is not None


def has_answer_ids(conn: sqlite3.Connection) -> bool:
    """Whether the file's answers have ids (version 4)."""
    return "id" in {row[1] for row in conn.execute("PRAGMA table_info(answers)")}


def decision_rows(conn: sqlite3.Connection, rows: str = "", paired: bool = True) -> str:
    """SQL for the view's columns, one row per decision (not ordered), of the decisions rows that
    meet `rows` (SQL over `d`, with named parameters: they bind in both halves). A file of version 1
    or 2 no server has migrated is read through its own view, so it reads as it always did; one of
    version 3, by answer keys; one without the pairs table has no rows that name pairs. `paired`:
    False leaves out the decisions of version 5's batch rows (`pair_counts` counts those by pair)."""
    cond = f" AND ({rows})" if rows else ""
    if has_batch_rows(conn):
        pairs = f" UNION ALL {_PAIRED.format(rows=cond)}" if paired and has_pairs(conn) else ""
        return f"{_ONE.format(rows=cond)} UNION ALL {_many(has_answer_ids(conn)).format(rows=cond)}{pairs}"
    return f"SELECT * FROM decision_log AS d{' WHERE ' + rows if rows else ''}"  # its id, ts, decision_id are d's


def pair_counts(rows: str = "") -> str:
    """SQL: one row per (query, answer) pair named by version 5's batch rows that meet `rows` (as in
    decision_rows), with `k`, how many of their decisions it is, and the view's query and answer
    columns (not the time, nor anything else of a decision's own). Why: counting by those columns
    (`policy-engine log --count --decision deny`) then reads each batch row's array of pair ids
    once and looks each distinct pair up once, instead of making every decision's row."""
    cond = f" AND ({rows})" if rows else ""
    return (f"SELECT g.k AS k, {_fields('q.query')}, q.query, {_ANSWER} "
            "FROM (SELECT r.value AS pair, count(*) AS k FROM decisions AS d JOIN json_each(d.query) AS r "
            f"WHERE {_PAIRED_ROWS}{cond} GROUP BY r.value) AS g {_PAIR_OF.format(pair='g.pair')}")


def create_private(path: str | os.PathLike[str], warn: Any = None) -> bool:
    """Create the file readable by its owner only (0600), whatever the umask, unless it exists. The
    log holds every question asked; SQLite gives its -wal and -shm files the same permissions.
    Returns False when it existed and is readable by others (and tells `warn(message)`)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o077:
            if warn is not None:
                warn(f"decision log {path} is readable by others (mode {mode:o}); `chmod 600` it")
            return False
        return True
    os.close(fd)
    return True


def open_db(path: str | os.PathLike[str], durable: bool = False, warn: Any = None) -> sqlite3.Connection:
    """Open (creating if needed, 0600) a decision log database in WAL mode. `durable`: fsync every commit
    (synchronous=FULL: a committed row survives power loss too), else synchronous=NORMAL (a committed
    row survives a crash of the process; the OS writes it out)."""
    create_private(path, warn)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level="DEFERRED")
    conn.execute("PRAGMA busy_timeout = 10000")  # several workers may share one file
    # 4 KiB pages (a new file only; an existing one keeps its own, 64 KiB for files made before).
    # 64 KiB paid when a batch row held its answers' keys (some 16 KiB: one page, not five); a row
    # of version 5 is some 450 bytes, and each commit writes every page it touched to the WAL whole.
    # Measured on flushes of batch rows: 4.3 µs a row against 6.8 at 80 rows a flush, 3.9 against
    # 4.8 at 200; in the server, +1.1% batch decisions a second with the log on (median of 20 paired
    # rounds) and 2.9 µs less CPU a request; a filtered `log --count` over 28 M decisions 15% faster.
    conn.execute("PRAGMA page_size = 4096")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch {path} to WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    conn.executescript(SCHEMA)  # IF NOT EXISTS: workers opening one file at once agree
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
            have = columns(conn)
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE decisions ADD COLUMN {column} {kind}".rstrip())
            if not has_answer_ids(conn):
                for statement in _REBUILD_ANSWERS:
                    conn.execute(statement)
            for statement in VIEW.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
