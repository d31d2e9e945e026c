"""Reading the decision log (`policy-engine log`). In: a SQLite decision log and filters.
Out: matching rows as dicts, oldest first, or one row by its `decision_id` (`find_decision`).
Opens the file read-only; never creates one. Reads logs of every schema version (a row written
before decision ids has `decision_id` None, or no such key in a file no server has migrated; a
batch row of version 3 reads as its decisions, one row each: log_schema.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from policy_engine.engine import words
from policy_engine.server import ids, log_schema

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: datetime | None = None) -> float:
    """'2026-11-25', '2026-11-25T10:00:00Z', '2026-11-25 10:00' (UTC unless an offset is given), or an
    age such as '15m', '2h', '7d' (that long ago) -> unix seconds. Raises ValueError."""
    m = _RELATIVE.match(text)
    if m:
        now = now or datetime.now(timezone.utc)
        try:
            return (now - timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])).timestamp()
        except OverflowError:  # further back than the calendar goes
            raise ValueError(f"not a time: {text!r} reaches back before the year 1; give an age of at most a few "
                             "thousand years, or a date like 2026-11-25") from None
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use 2026-11-25, 2026-11-25T10:00:00Z, or an age like 15m, 2h, 7d)") \
            from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


@dataclass(frozen=True)
class LogFilter:
    since: float | None = None
    until: float | None = None
    decision: str | None = None
    action: str | None = None
    data: str | None = None  # a term covers its descendants: `cookie` matches `cookie.analytics`
    purpose: str | None = None
    source: str | None = None
    recipient: str | None = None
    digest: str | None = None  # a prefix is enough: `sha256:3f2a`
    limit: int = 100  # the most recent N matches; 0 for all

    def where(self, prefix: str = "f") -> tuple[str, dict[str, Any]]:
        """The filter over the view's columns: (" WHERE ...", named parameters, named `prefix` and a number)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}

        def p(value: Any) -> str:
            name = f"{prefix}{len(params)}"
            params[name] = value
            return ":" + name

        if self.since is not None:
            clauses.append(f"ts >= {p(self.since)}")
        if self.until is not None:
            clauses.append(f"ts < {p(self.until)}")
        for column in ("decision", "action"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = {p(value)}")
        for column in ("data", "purpose", "source", "recipient"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"({column} = {p(value)} OR substr({column}, 1, {p(len(value) + 1)}) = {p(value + '.')})")
        if self.digest is not None:
            digest = self.digest if ":" in self.digest else "sha256:" + self.digest
            clauses.append(f"substr(digest, 1, {p(len(digest))}) = {p(digest)}")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def rows(self) -> tuple[str, dict[str, Any]]:
        """The part of the filter a decisions row `d` can be tested on before expansion (its time)."""
        clauses, params = [], {}
        if self.since is not None:
            clauses.append("d.ts >= :r_since")
            params["r_since"] = self.since
        if self.until is not None:
            clauses.append("d.ts < :r_until")
            params["r_until"] = self.until
        return " AND ".join(clauses), params


def open_read_only(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(str(path))
    conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


_PAGE = 2000  # decisions rows read at a time from the newest end


def query_log(path: str | Path, flt: LogFilter) -> Iterator[dict[str, Any]]:
    """Rows matching `flt`, oldest first (the newest `flt.limit` when a limit is set)."""
    conn = open_read_only(path)
    try:
        rows = _matching(conn, flt)
    finally:
        conn.close()
    for row in rows:
        yield _decoded(row)


def _matching(conn: sqlite3.Connection, flt: LogFilter) -> list[sqlite3.Row]:
    where, params = flt.where()
    cond, cond_params = flt.rows()
    params.update(cond_params)
    if not flt.limit:
        return conn.execute(f"SELECT * FROM ({log_schema.decision_rows(conn, cond)}){where} ORDER BY id", params).fetchall()
    if not log_schema.has_batch_rows(conn):  # one row per decision: the newest matches straight from the end
        sql = f"SELECT * FROM ({log_schema.decision_rows(conn, cond)}){where} ORDER BY id DESC LIMIT :limit"
        return conn.execute(f"SELECT * FROM ({sql}) ORDER BY id ASC", {**params, "limit": flt.limit}).fetchall()
    # Batch rows: their decisions' ids are computed, so no index orders them; read pages of rows
    # from the newest (by the primary key) until the limit is met.
    page = f"d.id IN (SELECT d.id FROM decisions AS d WHERE d.id < :hi{' AND ' + cond if cond else ''} " \
           "ORDER BY d.id DESC LIMIT :page)"
    sql = f"SELECT * FROM ({log_schema.decision_rows(conn, page)}){where} ORDER BY id DESC"
    low = f"SELECT min(id) FROM (SELECT d.id FROM decisions AS d WHERE d.id < :hi{' AND ' + cond if cond else ''} " \
          "ORDER BY d.id DESC LIMIT :page)"
    found: list[sqlite3.Row] = []
    hi = (conn.execute("SELECT max(id) FROM decisions").fetchone()[0] or 0) + 1
    page = max(16, min(flt.limit, _PAGE))  # rows: a batch row holds many decisions, so start small
    while len(found) < flt.limit:
        bind = {**params, "hi": hi, "page": page}
        found.extend(conn.execute(sql, bind).fetchmany(flt.limit - len(found)))
        hi = conn.execute(low, bind).fetchone()[0]
        if hi is None:
            break
        page = min(page * 4, _PAGE)
    found.reverse()
    return found


def find_decision(path: str | Path, decision_id: str) -> dict[str, Any] | None:
    """The row of one answer, by the `decision_id` the server sent with it; None when the log has no
    such row (a log written before decision ids has none). Raises ValueError for a text that is not a
    decision id. The id's own millisecond bounds the search, so the time index finds it (no index on
    the id, which every insert would pay)."""
    made = ids.millis(decision_id)
    if made is None:
        raise ValueError(f"not a decision id: {decision_id!r} (a UUIDv7 such as 019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b8f3, "
                         "the `decision_id` of an answer)")
    conn = open_read_only(path)
    wanted = decision_id.strip().lower()
    try:
        if "decision_id" not in log_schema.columns(conn):
            return None
        # the row's ts is taken when the request queues its rows, just after the id is made; a minute of
        # slack either way covers a slow request and a clock step. A batch row holds its ids in order,
        # the first in decision_id: only rows that start at or before the id can hold it.
        near = "d.ts BETWEEN :lo AND :hi AND d.decision_id <= :id"
        if log_schema.has_batch_rows(conn):
            near += (" AND (d.decision_id = :id OR (d.n IS NOT NULL AND (instr(d.decision_ids, :id) > 0 OR ("
                     "typeof(d.decision_ids) = 'integer' AND substr(d.decision_id, 1, 24) = substr(:id, 1, 24)))))")
        row = conn.execute(f"SELECT * FROM ({log_schema.decision_rows(conn, near)}) WHERE decision_id = :id",
                           {"lo": made / 1000 - 60, "hi": made / 1000 + 60, "id": wanted}).fetchone()
    finally:
        conn.close()
    return None if row is None else _decoded(row)


def _decoded(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in ("query", "rules", "facts"):
        if out.get(key) is not None:
            out[key] = json.loads(out[key])
    return out


def count_log(path: str | Path, flt: LogFilter) -> int:
    """How many decisions match. A filter on the time alone is counted from the rows themselves (a
    batch row's n decisions share its time), without expanding each decision through the view."""
    conn = open_read_only(path)
    try:
        cond, cond_params = flt.rows()
        if flt == LogFilter(since=flt.since, until=flt.until, limit=flt.limit):
            decisions = "sum(coalesce(d.n, 1))" if log_schema.has_batch_rows(conn) else "count(*)"
            sql = f"SELECT coalesce({decisions}, 0) FROM decisions AS d{' WHERE ' + cond if cond else ''}"
            return int(conn.execute(sql, cond_params).fetchone()[0])
        where, params = flt.where()
        if not (log_schema.has_batch_rows(conn) and log_schema.has_pairs(conn)):
            sql = f"SELECT count(*) FROM ({log_schema.decision_rows(conn, cond)}){where}"
            return int(conn.execute(sql, {**params, **cond_params}).fetchone()[0])
        # Version 5's batch rows by pair (their time is the row's: `cond`), the rest decision by decision
        by_pair, pair_params = replace(flt, since=None, until=None).where(prefix="p")
        sql = (f"SELECT (SELECT count(*) FROM ({log_schema.decision_rows(conn, cond, paired=False)}){where}) + "
               f"(SELECT coalesce(sum(k), 0) FROM ({log_schema.pair_counts(cond)}){by_pair})")
        return int(conn.execute(sql, {**params, **cond_params, **pair_params}).fetchone()[0])
    finally:
        conn.close()


def render_row(row: dict[str, Any]) -> str:
    """One line: time, decision, the question (in the words every report uses), the digest, and
    the cited rules' lines."""
    # the question as asked (its JSON keeps destination, at and fact times, which the view's columns do not)
    asked = row.get("query")
    question = words.question(asked if isinstance(asked, dict) else row, unknown=words.FACTS_UNKNOWN)
    lines = ",".join(str(r.get("line")) for r in row.get("rules") or [] if isinstance(r, dict) and r.get("line"))
    decision = row["decision"]
    if row.get("requires"):
        decision += f" (requires {row['requires']})"
    digest = str(row.get("digest", ""))[:19]
    return f"{row['time']}  {decision:<12} {question}  {digest}" + (f"  lines {lines}" if lines else "")
