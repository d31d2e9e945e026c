"""Reading the decision log (`policy-engine log`). In: a SQLite decision log and filters.
Out: matching rows as dicts, oldest first, or one row by its `decision_id` (`find_decision`).
Opens the file read-only; never creates one. Reads logs of every schema version (a row written
before decision ids has `decision_id` None, or no such key in a file no server has migrated).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from policy_engine.engine import words
from policy_engine.server import ids

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: datetime | None = None) -> float:
    """'2026-11-25', '2026-11-25T10:00:00Z', '2026-11-25 10:00' (UTC unless an offset is given), or an
    age such as '15m', '2h', '7d' (that long ago) -> unix seconds. Raises ValueError."""
    m = _RELATIVE.match(text)
    if m:
        now = now or datetime.now(timezone.utc)
        return (now - timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])).timestamp()
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

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            clauses.append("ts >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("ts < ?")
            params.append(self.until)
        for column in ("decision", "action"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        for column in ("data", "purpose", "source", "recipient"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"({column} = ? OR substr({column}, 1, ?) = ?)")
                params.extend([value, len(value) + 1, value + "."])
        if self.digest is not None:
            digest = self.digest if ":" in self.digest else "sha256:" + self.digest
            clauses.append("substr(digest, 1, ?) = ?")
            params.extend([len(digest), digest])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def open_read_only(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(str(path))
    conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def query_log(path: str | Path, flt: LogFilter) -> Iterator[dict[str, Any]]:
    """Rows matching `flt`, oldest first (the newest `flt.limit` when a limit is set)."""
    conn = open_read_only(path)
    try:
        where, params = flt.where()
        sql = f"SELECT * FROM decision_log{where} ORDER BY id DESC"
        if flt.limit:
            sql += " LIMIT ?"
            params.append(flt.limit)
        rows = conn.execute(f"SELECT * FROM ({sql}) ORDER BY id ASC", params).fetchall()
    finally:
        conn.close()
    for row in rows:
        yield _decoded(row)


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
    try:
        if "decision_id" not in {r[1] for r in conn.execute("PRAGMA table_info(decisions)")}:
            return None
        # the row's ts is taken when the request queues its rows, just after the id is made; a minute of
        # slack either way covers a slow request and a clock step
        row = conn.execute("SELECT * FROM decision_log WHERE ts BETWEEN ? AND ? AND decision_id = ?",
                           (made / 1000 - 60, made / 1000 + 60, decision_id.strip().lower())).fetchone()
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
    conn = open_read_only(path)
    try:
        where, params = flt.where()
        return int(conn.execute(f"SELECT count(*) FROM decision_log{where}", params).fetchone()[0])
    finally:
        conn.close()


def render_row(row: dict[str, Any]) -> str:
    """One line: time, decision, the question (in the words every report uses), the digest, and
    the cited rules' lines."""
    question = words.question(row, unknown=words.FACTS_UNKNOWN)
    lines = ",".join(str(r.get("line")) for r in row.get("rules") or [] if isinstance(r, dict) and r.get("line"))
    decision = row["decision"]
    if row.get("requires"):
        decision += f" (requires {row['requires']})"
    digest = str(row.get("digest", ""))[:19]
    return f"{row['time']}  {decision:<12} {question}  {digest}" + (f"  lines {lines}" if lines else "")
