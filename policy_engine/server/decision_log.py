"""The decision log writer. In: the answers of each request (query, Encoded answer, latency,
decision id). Out: rows in SQLite (WAL) or JSON lines on stdout, written in batches by one
background thread, or, buffered into SQLite, by the request side itself once a flush interval.

The queue and the writer thread are in log_writer.py (buffered and audit modes), the request
side's flushes in log_here.py (why: the writer thread's waits for the GIL); this module opens the
targets and writes a batch. `flushed` counts the decisions committed so far: one
counted there survives a SIGKILL of the process (WAL, committed transaction). `close()` drains
the queue and commits what is left (the server calls it on SIGTERM, via the lifespan).

The SQLite layout (log_schema.py) keeps the writer's work small, because it shares the GIL with
the event loop: each distinct answer is stored once in `answers` (with an id), each distinct query
text once in `queries`, each question with its answer once in `pairs`; a single decision is one
`decisions` row (time, query, answer key, latency, decision id, traceparent), unless it is folded
with the singles after it in the same millisecond (as they are queued, log_runs.py, for the memo's
hits; else when written, log_fold.py), and the answers
of one batch request are one row holding them as an array of their pairs' ids (made on the event
loop in one C-level pass and a join, `_columns`), so a batch of 100 costs one row of some 450 bytes
instead of 100 rows. The `decision_log` view gives one
row per decision either way.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Awaitable, Iterator

from policy_engine.server.encode import Encoded, Remembered
from policy_engine.server.ids import IdBlock
from policy_engine.server.log_schema import SCHEMA_VERSION, create_private, migrate, open_db
from policy_engine.server.log_fold import float32s, fold_singles, ids_text, latency_columns, strings as _strings
from policy_engine.server.log_runs import RunsOfSingles
from policy_engine.server.log_writer import _ENC, _QUERY, BatchingWriter, DecisionSink, Request

log = logging.getLogger("policy_engine.server")

__all__ = ["SCHEMA_VERSION", "create_private", "migrate", "open_db", "open_decision_log", "query_text"]

# One statement is one transaction (autocommit): it commits all its rows or none, and the writer
# wins the GIL back from the event loop once for it (each SQLite call lets go of the GIL, and
# getting it back from a busy loop can take a switch interval, 5 ms). So a flush is one statement
# for its single rows and one for its batch rows. The statement for n rows is padded to the next
# power of two with rows of NULLs that its WHERE leaves out: a handful of distinct statements,
# prepared once. Rows per statement stay under SQLite's 32,766 parameters (999 before 3.32).
_MOST_ROWS = 4096  # rows a statement takes at most, however many parameters the SQLite build allows
# A single row takes the next rowid (its own decision id); a batch row's id is its last decision's:
# the file's largest id (read in the statement, under its write lock) plus the row's offset.
_ONE_SQL = ("INSERT INTO decisions (ts, query, answer, latency_us, decision_id, traceparent) "
            "SELECT column1, column2, column3, round(column4 * 1e6, 3), column5, column6 FROM (VALUES {rows}) "
            "WHERE column1 IS NOT NULL")
_MANY_SQL = ("INSERT INTO decisions (id, ts, query, answer, latency_us, decision_id, traceparent, n, latencies_s, "
             "decision_ids) SELECT (SELECT coalesce(max(id), 0) FROM decisions) + column1, column2, column3, column4, "
             "round(column5 * 1e6, 3), column6, column7, column8, column9, column10 FROM (VALUES {rows}) "
             "WHERE column1 IS NOT NULL")


def _statement(sql: str, width: int, n: int, _cache: dict[tuple[str, int], tuple[str, int]] = {}) -> tuple[str, int]:  # noqa: B006
    """(the statement for up to n rows, the rows it takes): n rounded up to a power of two."""
    size = 1 << max(0, (n - 1).bit_length())
    hit = _cache.get((sql, size))
    if hit is None:
        hit = _cache[(sql, size)] = (sql.format(rows=",".join(["(" + ",".join(["?"] * width) + ")"] * size)), size)
    return hit


def _insert(conn: sqlite3.Connection, sql: str, params: list[Any], width: int) -> None:
    """The rows whose parameters are `params` (`width` each): one statement, padded, or, past what one
    statement may bind (SQLITE_LIMIT_VARIABLE_NUMBER, 999 in builds before 3.32), as many as it
    takes, in one transaction (all or none, as one statement would be)."""
    if not params:
        return
    most = 1 << (min(_MOST_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width).bit_length() - 1)
    step = most * width
    if len(params) <= step:
        statement, size = _statement(sql, width, len(params) // width)
        conn.execute(statement, params + [None] * (size * width - len(params)))
        return
    with _transaction(conn):
        for at in range(0, len(params), step):
            part = params[at:at + step]
            if at and sql is _MANY_SQL:  # its ids are offsets from the file's last id, which the part before moved
                shift = params[at - width]
                part[0::width] = [offset - shift for offset in part[0::width]]
            statement, size = _statement(sql, width, len(part) // width)
            conn.execute(statement, part + [None] * (size * width - len(part)))


# On the request side (log_here.py) no other thread waits for the GIL, so a flush may take several
# SQLite calls: one transaction that reads the file's largest id and inserts plain VALUES rows, the
# ids given (measured: 3.1 µs a batch row, against 4.7 through the padded INSERT ... SELECT above).
# The rows go in statements of a power of two rows each (230 rows: 128 + 64 + 32 + 4 + 2), so a
# handful of statements are prepared once and then reused from the connection's cache: measured, a
# statement of the flush's own row count, prepared anew for each flush, cost more than the inserting
# (1.4 ms a flush of 230 batch rows, against 0.6 ms).
_COLUMNS_OF = {_ONE_SQL: ("ts, query, answer, latency_us, decision_id, traceparent", "(?,?,?,round(?*1e6,3),?,?)"),
               _MANY_SQL: ("id, ts, query, answer, latency_us, decision_id, traceparent, n, latencies_s, decision_ids",
                           "(?,?,?,?,round(?*1e6,3),?,?,?,?,?)")}


@lru_cache(maxsize=64)
def _plain(sql: str, n: int) -> str:
    columns, row = _COLUMNS_OF[sql]
    return f"INSERT INTO decisions ({columns}) VALUES {','.join([row] * n)}"


def _insert_here(conn: sqlite3.Connection, sql: str, params: list[Any], width: int) -> None:
    """As _insert, on the request side: one transaction of plain inserts, the batch rows' ids given."""
    if not params:
        return
    step = max(1, min(_MOST_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)) * width
    with _transaction(conn):
        if sql is _MANY_SQL:
            base = conn.execute("SELECT coalesce(max(id), 0) FROM decisions").fetchone()[0]
            params[0::width] = [base + offset for offset in params[0::width]]
        for start in range(0, len(params), step):
            at, rows = start, min(step, len(params) - start) // width
            while rows:
                size = 1 << (rows.bit_length() - 1)  # the largest power of two in what is left
                conn.execute(_plain(sql, size), params[at:at + size * width])
                at += size * width
                rows -= size


_INSERT_ANSWER = "INSERT INTO answers (key, decision, requires, would_allow_if, rules, digest) VALUES (?, ?, ?, ?, ?, ?)"


_FIELDS = ("action", "data", "source", "purpose", "recipient", "destination", "facts", "at", "collected_at")
# A subject question's row also keeps the subject and the store records it rested on.
_SUBJECT_FIELDS = ("subject", "evidence")


def query_text(query: dict[str, Any]) -> str:
    """A query's JSON text as the log stores it: the documented field order, nulls left out."""
    fields = _FIELDS + _SUBJECT_FIELDS if "subject" in query else _FIELDS
    return json.dumps({k: query[k] for k in fields if query.get(k) is not None}, separators=(",", ":"),
                      ensure_ascii=False)
_MEMO_LIMIT = 50_000
# The request side never checkpoints (a checkpoint copies megabytes and syncs the file: measured, the
# loop then waited out the fsyncs, about 1.4 µs a batch request); every this many of its flushes (5 s
# under load at the default 50 ms) it asks the writer thread to, on its own connection, beside it.
_CHECKPOINT_EVERY = 100

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


class SqliteDecisionLog(RunsOfSingles):
    """Rows in a SQLite file in WAL mode; one transaction per batch. Buffered, the request side
    writes (log_here.py) on a connection of its own that never waits for a lock (busy_timeout 0: a
    busy file is the writer thread's to wait for) and never checkpoints (the writer thread does,
    asked every _CHECKPOINT_EVERY flushes: two waits for the GIL, where a checkpoint on the loop
    would make it wait for the disk)."""

    flushes_here = True

    def __init__(self, path: str | os.PathLike[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._conn_here: sqlite3.Connection | None = None  # the request side's (buffered)
        self._flushes_here = 0  # since the writer thread was last asked to checkpoint
        self._checkpoint_due = False
        self._query_text = QueryText()
        self._answer_ids: dict[Encoded, str] = {}  # answer -> its answers.id (as text), known to be in the file
        self._query_ids: dict[str, str] = {}  # query text -> its queries.id (as text), known to be in the file
        # (query text, answer) or a Remembered answer (by identity) -> its pairs.id (as text), in the file
        self._pair_ids: dict[Any, str] = {}

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = open_db(self.path, durable=self.mode == "audit", warn=log.warning)
        self._conn.isolation_level = None  # autocommit: a statement is a transaction (_write)
        if self._here:
            here = self._conn_here = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            for pragma in ("busy_timeout = 0", "synchronous = NORMAL", "wal_autocheckpoint = 0", "temp_store = MEMORY"):
                here.execute(f"PRAGMA {pragma}")

    def _busy(self, err: Exception) -> bool:
        code = getattr(err, "sqlite_errorcode", None)  # extended: the primary code is its low byte
        return isinstance(err, sqlite3.OperationalError) and code is not None and code & 0xFF in (5, 6)  # BUSY, LOCKED

    def _maintain(self) -> None:
        if self._checkpoint_due and self._conn is not None:
            self._checkpoint_due = False
            try:  # PASSIVE: the request side goes on writing on its own connection meanwhile
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as err:
                log.warning("decision log: checkpoint failed: %s", err)

    def _write(self, requests: list[Request], here: bool = False) -> None:
        conn = self._conn_here if here else self._conn
        assert conn is not None
        if here:
            self._flushes_here += 1
            if self._flushes_here >= _CHECKPOINT_EVERY:
                self._flushes_here = 0
                self._checkpoint_due = True
                self._kick.set()
        text = self._query_text
        answer_ids, pair_ids = self._answer_ids, self._pair_ids
        one: list[Any] = []  # flat parameters: 6 a single row, 10 a batch row; ids given below
        many: list[Any] = []
        put_one, put_many = one.extend, many.extend
        if len(requests) > 1:
            requests = fold_singles(requests, pair_ids)
        # Answers and pairs not yet in the file: added (and committed) first, so no id is known that
        # is not there, and before the rows that name them (a crash between leaves them unused: harmless).
        answers = [r[3] for r in requests if r[0] == 1 and r[3] not in answer_ids]
        unknown = [item for r in requests if r[0] > 1 and type(r[2]) is not str for item in r[2]]
        if answers or unknown:
            self._learn(conn, answers, unknown)
        offset = 0  # a row's offset from the file's last id (read by the statement): its id when all are given
        mixed = any(r[0] != 1 for r in requests)  # then every row, single too, in the batch statement (order kept)
        for n, ts, queries, encs, latencies, ids, traceparent in requests:
            if n == 1:  # the query, answer (its key), latency and id themselves
                if mixed:
                    offset += 1
                    put_many((offset, ts, queries if type(queries) is str else text(queries), encs.key, latencies,
                              ids, traceparent, None, None, None))
                else:
                    put_one((ts, queries if type(queries) is str else text(queries), encs.key, latencies, ids,
                             traceparent))
                continue
            if type(queries) is not str:  # its decisions' pairs, learnt above
                queries = "[" + ",".join([pair_ids[self._pair_key(item)] for item in queries]) + "]"
            offset += n
            put_many((offset, ts, queries, "", latencies[0], ids[0], traceparent, n, latencies[1], ids[1]))
        insert = _insert_here if here else _insert
        insert(conn, _ONE_SQL, one, 6)  # one of the two is empty
        insert(conn, _MANY_SQL, many, 10)

    def _columns(self, answers: list[Any], ids: list[str], latency: float | None) -> tuple[Any, Any, Any, Any]:
        """On the event loop: a batch request's row, nearly ready to insert: its decisions' pair ids
        (the answers of the memo's hits are Remembered objects, which `_pair_ids` maps by identity:
        one C-level pass and a join), latencies and decision ids. Why here and not on the writer
        thread: what the queue holds must not point at the shared query texts and answers, or two
        cores keep taking their reference counts from each other (measured: it cost the event loop
        more than the work); only a request with a pair not yet in the file queues its answers, for
        the writer to learn. The writer reads `_pair_ids` only to add to them, under the GIL."""
        if type(answers[0]) is Remembered:  # the direct path's hits (direct.py)
            pairs = ids_text(answers, self._pair_ids)
        else:  # answers made for the request (the ASGI route's): by (query text, answer), pairs made in C
            pairs = ids_text(list(zip(map(_QUERY, answers), map(_ENC, answers))), self._pair_ids)
        if type(pairs) is not str:
            pairs = list(answers)
        first = ids[0]
        return (pairs, None,
                latency_columns([a.latency for a in answers]) if latency is None
                else (latency * len(answers), float32s((latency,))),
                (first, int(first[24:], 16) if type(ids) is IdBlock else _strings(ids)))

    def _pair_key(self, item: Any) -> Any:
        """What `_pair_ids` knows a decision's pair by: a Remembered answer itself, else (its query's
        log text, its answer). `item`: an answer (deciding.Answered, Remembered, or the loose values of
        `record_many`) or a (query, answer) tuple of folded singles."""
        if type(item) is Remembered:
            return item
        query, enc = item if type(item) is tuple else (item.query, item.enc)
        return (query if type(query) is str else self._query_text(query), enc)

    def _learn(self, conn: sqlite3.Connection, answers: list[Encoded], items: list[Any]) -> None:
        """Put the answers (of single rows) and the pairs of `items` (decisions of batch rows) not yet
        known into `answers`, `queries` and `pairs`, in a transaction of their own, and only once it is
        committed learn their ids (the request side reads them: an id it uses is in the file). One
        already in the file (a server before, another worker, or an Encoded made again for the same
        answer) is found by its key or text."""
        known_queries, known_answers, known_pairs = self._query_ids, self._answer_ids, self._pair_ids
        for known in (known_queries, known_answers, known_pairs):
            if len(known) >= _MEMO_LIMIT:
                known.clear()
        keys = [self._pair_key(item) for item in items]
        values = list(dict.fromkeys((k.query, k.enc) if type(k) is Remembered else k for k in keys))
        queries: dict[str, str] = {}
        learnt: dict[Encoded, str] = {}
        pairs: dict[tuple[str, Encoded], str] = {}
        with _transaction(conn):
            for t in dict.fromkeys(t for t, _ in values if t not in known_queries):
                row = conn.execute("SELECT id FROM queries WHERE query = ?", (t,)).fetchone()
                queries[t] = str(row[0] if row else conn.execute("INSERT INTO queries (query) VALUES (?)", (t,)).lastrowid)
            for e in dict.fromkeys([*answers, *(e for _, e in values)]):
                if e in known_answers:
                    continue
                row = conn.execute("SELECT id FROM answers WHERE key = ?", (e.key,)).fetchone()
                learnt[e] = str(row[0] if row else conn.execute(
                    _INSERT_ANSWER, (e.key, e.label, e.requires, e.would_allow_if, e.rules, e.digest)).lastrowid)
            for t, e in values:
                if (t, e) in known_pairs:
                    continue
                q, a = int(queries.get(t) or known_queries[t]), int(learnt.get(e) or known_answers[e])
                row = conn.execute("SELECT id FROM pairs WHERE query = ? AND answer = ?", (q, a)).fetchone()
                pairs[(t, e)] = str(row[0] if row else conn.execute(
                    "INSERT INTO pairs (query, answer) VALUES (?, ?)", (q, a)).lastrowid)
        known_queries.update(queries)
        known_answers.update(learnt)
        known_pairs.update(pairs)
        for k in keys:
            if type(k) is Remembered:
                known_pairs[k] = known_pairs[(k.query, k.enc)]

    def _shutdown(self) -> None:
        if self._conn_here is not None:
            self._conn_here.close()
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
            self._conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
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

    def _write(self, requests: list[Request], here: bool = False) -> None:
        lines = []
        for n, ts, queries, encs, latencies, ids, traceparent in requests:
            time_text, trace = iso_time(ts), json.dumps(traceparent)
            if n == 1:
                queries, encs, latencies, ids = [queries], [encs], [latencies], [ids]
            for query, enc, latency, decision_id in zip(queries, encs, latencies, ids):
                q = self._query_text(query)
                if type(query) is str:
                    query = json.loads(query)
                facts = query.get("facts") if isinstance(query, dict) else getattr(query, "facts", None)
                lines.append(
                    f'{{"time":"{time_text}","ts":{ts!r},"decision_id":{json.dumps(decision_id)},'
                    f'"traceparent":{trace},"query":{q},"facts":{json.dumps(facts)},'
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

    def record_answers(self, answers: list[Any], ids: list[str], traceparent: str | None = None,
                       latency: float | None = None) -> Awaitable[None] | None:
        return None

    def hit(self, answer: Remembered, decision_id: str, latency: float) -> Awaitable[None] | None:
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
