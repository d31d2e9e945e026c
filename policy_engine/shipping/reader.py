"""New rows of a decision log, read-only, as events in the shape of OPA's decision logs.

The log is the SQLite file `serve` writes (policy_engine/server/log_schema.py: `decisions`
rows, each pointing at a shared `answers` row; a batch row of version 3 holds a batch request's
decisions, each with its own id, and is read as them). The file is opened read-only (`mode=ro`): the
shipper never writes to a replica's log, and the server's writer is never blocked by it (WAL
lets readers and the one writer work at once). Decisions are read in id order after a cursor (a
decision's id, which may fall inside a batch row), so a shipper that restarts with its cursor
carries on where it stopped.

An event (OPA's fields, with this engine's answer as the result):
    {"decision_id": ..., "labels": {"id": replica, "version": ...}, "path": "policy-engine/decide",
     "input": the query, "result": {"decision", "requires", "would_allow_if", "rules"},
     "timestamp": RFC 3339, "metrics": {"timer_decide_ns": ...},
     "bundles": {"policy": {"revision": the policy digest}}, "log_position": ...}
`decision_id` is the server's own when the log has one (schema 2), else the `log_position`;
`log_position` is `<replica>:<epoch>:<row id>`, where the row sits in which replica's file. Both
are stable, so a collector can drop the duplicates that at-least-once delivery may send. The epoch
(the first row's time, in hex microseconds) tells two files apart: a replica whose log starts
afresh (a container without a volume) numbers its rows from 1 again.

A file replaced at the same path (another inode) is reopened, and `replaced()` says so once,
so the shipper reads the new file from its first row.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from policy_engine import __version__
from policy_engine.server import log_schema

_COLUMNS = ("id", "ts", "query", "decision", "requires", "would_allow_if", "rules", "digest", "latency_us")


class LogReader:
    """`read(after, limit)` -> (row id, event) for the rows with id > after, oldest first."""

    def __init__(self, path: str | Path, replica: str):
        self.path = Path(path)
        self.replica = replica
        self._conn: sqlite3.Connection | None = None
        self._has_decision_id = False
        self._batch_rows = False
        self._inode: int | None = None
        self._replaced = False
        self.epoch: str | None = None  # None until the log has a row

    def _connect(self) -> sqlite3.Connection | None:
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            inode = None
        if self._conn is not None and inode != self._inode:  # deleted, or another file put in its place
            self.close()
            self._replaced, self.epoch = True, None
        if self._conn is None:
            if inode is None or not self.path.is_file():
                return None  # the server has not written its first row yet
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"decisions", "answers"} <= tables:
                conn.close()
                return None  # created, schema not written yet
            cols = log_schema.columns(conn)
            self._has_decision_id = "decision_id" in cols
            self._batch_rows = "n" in cols
            self._conn, self._inode = conn, inode
        self._learn_epoch(self._conn)
        return self._conn

    def _learn_epoch(self, conn: sqlite3.Connection) -> None:
        if self.epoch is None:
            first = conn.execute("SELECT ts FROM decisions ORDER BY id LIMIT 1").fetchone()
            self.epoch = None if first is None else format(int(first[0] * 1_000_000), "x")

    def replaced(self) -> bool:
        """True once after the file at the path turned out to be another one."""
        self._connect()
        replaced, self._replaced = self._replaced, False
        return replaced

    def read(self, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        conn = self._connect()
        if conn is None:
            return []
        if not self._batch_rows:
            self._batch_rows = log_schema.has_batch_rows(conn)  # a server may have migrated it since
        if self._batch_rows:
            self._has_decision_id = True
            # the rows holding decisions after the cursor are exactly those with id > after (a row's id is
            # its last decision's): take `limit` of them by the primary key, expand, trim to `limit`
            sql = log_schema.decision_rows(conn, "d.id IN (SELECT d.id FROM decisions AS d WHERE d.id > :after "
                                                 "ORDER BY d.id LIMIT :limit)")
            rows = conn.execute(f"SELECT {', '.join(_COLUMNS)}, decision_id FROM ({sql}) WHERE id > :after "
                                "ORDER BY id LIMIT :limit", {"after": after, "limit": limit}).fetchall()
        else:
            extra = ", d.decision_id" if self._has_decision_id else ""
            rows = conn.execute(
                "SELECT d.id, d.ts, d.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest, d.latency_us"
                f"{extra} FROM decisions AS d JOIN answers AS a ON a.key = d.answer WHERE d.id > ? ORDER BY d.id LIMIT ?",
                (after, limit)).fetchall()
        if rows:
            self._learn_epoch(conn)  # the first row may have come after the connection was opened
        return [(int(row[0]), self._event(row)) for row in rows]

    def last_id(self) -> int:
        """The newest row's id (0 for an empty or missing log): where `--from-end` starts."""
        conn = self._connect()
        if conn is None:
            return 0
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM decisions").fetchone()[0])

    def _event(self, row: tuple[Any, ...]) -> dict[str, Any]:
        r = dict(zip(_COLUMNS, row))
        position = f"{self.replica}:{self.epoch}:{r['id']}"
        decision_id = row[len(_COLUMNS)] if self._has_decision_id and row[len(_COLUMNS)] else position
        stamp = datetime.fromtimestamp(r["ts"], tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        result = {"decision": r["decision"], "requires": r["requires"], "would_allow_if": r["would_allow_if"],
                  "rules": json.loads(r["rules"])}
        return {"decision_id": decision_id, "labels": {"id": self.replica, "version": __version__},
                "path": "policy-engine/decide", "input": json.loads(r["query"]), "result": result,
                "timestamp": stamp, "metrics": {"timer_decide_ns": int(r["latency_us"] * 1000)},
                "bundles": {"policy": {"revision": r["digest"]}}, "log_position": position}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
