"""The subject store: append-only events per subject, read back as history, as the facts holding at
an instant, and as the data held. Same behaviour on SQLite and PostgreSQL (see backends.py).

Nothing is updated in place: a consent withdrawn is a new `end` event, so the store can always show
which record an answer rested on (GDPR Art. 7(1)). The one deletion is `forget`, which erases a
subject and leaves a tombstone; an event dated before the tombstone is a replay and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policy_engine.subjects import current
from policy_engine.subjects.backends import Backend, Tx, open_backend
from policy_engine.subjects.model import (Forgotten, IdempotencyConflict, NewEvent, check_subject, format_time,
                                          parse_stored, show_time, utc_now)

_COLUMNS = ("id", "subject", "kind", "fact", "category", "source", "at", "channel", "evidence", "policy_digest",
            "recorded_at")
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM events"

# The facts holding at an instant, set-based: per (subject, fact) the latest begin/end up to `at`
# (ties broken by the event id, i.e. the order they were recorded); the fact holds when it is a
# begin. One statement per dialect, each read off the index (subject, fact, at, id) in order:
# PostgreSQL's DISTINCT ON, SQLite's max() whose bare columns come from the row holding the max.
_LATEST = {
    "postgresql": """
SELECT subject, fact, id, at FROM (
    SELECT DISTINCT ON (subject, fact) subject, fact, kind, id, at
    FROM events WHERE fact IS NOT NULL AND at <= ? {where} ORDER BY subject, fact, at DESC, id DESC
) latest WHERE kind = 'begin'
""",
    "sqlite": """
SELECT subject, fact, id, at FROM (
    SELECT subject, fact, kind, id, at, max(at || printf('%012d', id)) AS latest_key
    FROM events WHERE fact IS NOT NULL AND at <= ? {where} GROUP BY subject, fact
) latest WHERE kind = 'begin'
""",
}


def latest_facts(dialect: str, where: str = "") -> str:
    """The facts-holding query; `where` narrows it (`AND subject = ?`), its first parameter is `at`."""
    return _LATEST[dialect].format(where=where)


@dataclass(frozen=True)
class Held:
    """A fact holding for a subject, and the event that made it hold."""

    fact: str
    event_id: int
    since: str

    def to_dict(self) -> dict[str, Any]:
        return {"fact": self.fact, "event": self.event_id, "since": show_time(self.since)}


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_COLUMNS, row))
    out["at"] = show_time(out["at"])
    out["recorded_at"] = show_time(out["recorded_at"])
    return {k: v for k, v in out.items() if v is not None}


class SubjectStore:
    """`SubjectStore.open("subjects.sqlite3")` or `SubjectStore.open("postgresql://...")`; the schema
    is migrated on open."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.dialect = backend.dialect
        self.version = backend.migrate()

    @classmethod
    def open(cls, url: str) -> "SubjectStore":
        return cls(open_backend(url))

    def close(self) -> None:
        self.backend.close()

    def _lock(self, tx: Tx, subject: str) -> None:
        """Serialise writers of one subject (an event racing a forget). SQLite's BEGIN IMMEDIATE
        already serialises every writer."""
        if self.dialect == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (subject,))

    @staticmethod
    def _tombstone(tx: Tx, subject: str) -> tuple[str, str] | None:
        rows = tx.execute("SELECT forgotten_at, request_id FROM tombstones WHERE subject = ?", (subject,))
        return (rows[0][0], rows[0][1]) if rows else None

    # ---- writing -------------------------------------------------------------------------------
    def record(self, event: NewEvent, key: str | None = None) -> dict[str, Any]:
        """Append one event; returns it with `"replayed": true` when `key` was seen before (the
        unique constraint on the key decides, so concurrent retries record once)."""
        fingerprint = event.fingerprint()
        with self.backend.transaction() as tx:
            self._lock(tx, event.subject)
            stone = self._tombstone(tx, event.subject)
            if stone is not None and event.at <= stone[0]:
                raise Forgotten("subject.forgotten", f"this subject was erased at {show_time(stone[0])} "
                                f"(request {stone[1]}); an event dated before that is not recorded", "at")
            rows = tx.execute(
                "INSERT INTO events (subject, kind, fact, category, source, at, channel, evidence, policy_digest,"
                " idempotency_key, fingerprint, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (event.subject, event.kind, event.fact, event.category, event.source, event.at, event.channel,
                 event.evidence, event.policy_digest, key, fingerprint, format_time(utc_now())))
            replayed = not rows
            if replayed:
                rows = tx.execute("SELECT id, fingerprint FROM events WHERE idempotency_key = ?", (key,))
                if rows[0][1] != fingerprint:
                    raise IdempotencyConflict("subject.idempotency_conflict", "this Idempotency-Key was "
                                              "already used for a different event; use a new key", "Idempotency-Key")
            else:  # the current state follows in the same transaction: both are kept, or neither
                current.apply(tx, self.dialect, event, rows[0][0])
            found = tx.execute(_SELECT + " WHERE id = ?", (rows[0][0],))
        return {**_event(found[0]), "replayed": replayed}

    def forget(self, subject: str, request_id: str, at: datetime | None = None) -> dict[str, Any]:
        """Erase every event and request of the subject; keep (time, request id) as a tombstone."""
        check_subject(subject)
        when = format_time(at or utc_now())
        with self.backend.transaction() as tx:
            self._lock(tx, subject)
            tx.execute("DELETE FROM events WHERE subject = ?", (subject,))
            erased = tx.rowcount
            tx.execute("DELETE FROM requests WHERE subject = ?", (subject,))
            erased += tx.rowcount
            current.forget(tx, subject)
            tx.execute("INSERT INTO tombstones (subject, forgotten_at, request_id) VALUES (?, ?, ?) ON CONFLICT "
                       "(subject) DO UPDATE SET forgotten_at = excluded.forgotten_at, request_id = excluded.request_id",
                       (subject, when, request_id))
        return {"subject": subject, "erased": erased, "forgotten_at": show_time(when), "request_id": request_id}

    def record_request(self, subject: str, kind: str, received_at: str, channel: str | None, note: str | None,
                       key: str | None, fingerprint: str, limit: Any = None) -> tuple[dict[str, Any], bool]:
        """Record a request; `(request, replayed)`. A key seen before answers with its request. With a
        `limit` (entitlement.Limit: `count`, `window`, `refuse`), the requests of this kind received
        within the window before this one are counted in the same transaction, under the subject's
        lock, so concurrent requests cannot both slip under it."""
        with self.backend.transaction() as tx:
            self._lock(tx, subject)
            rows = tx.execute("SELECT id, fingerprint FROM requests WHERE idempotency_key = ?", (key,)) if key else []
            if rows and rows[0][1] != fingerprint:
                raise IdempotencyConflict("subject.idempotency_conflict", "this Idempotency-Key was "
                                          "already used for a different request; use a new key", "Idempotency-Key")
            replayed = bool(rows)
            if not replayed:
                if limit is not None:
                    start = format_time(parse_stored(received_at) - limit.window)
                    counted = [r[0] for r in tx.execute(
                        "SELECT received_at FROM requests WHERE subject = ? AND kind = ? AND received_at > ? "
                        "AND received_at <= ? ORDER BY received_at", (subject, kind, start, received_at))]
                    if len(counted) >= limit.count:
                        raise limit.refuse(kind, counted, received_at)
                rows = tx.execute(
                    "INSERT INTO requests (subject, kind, received_at, channel, note, idempotency_key, fingerprint)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (subject, kind, received_at, channel, note, key, fingerprint))
            found = tx.execute("SELECT id, subject, kind, received_at, channel, note FROM requests WHERE id = ?",
                               (rows[0][0],))
        return _request(found[0]), replayed

    # ---- reading -------------------------------------------------------------------------------
    def history(self, subject: str) -> list[dict[str, Any]]:
        with self.backend.transaction(write=False) as tx:
            return [_event(r) for r in tx.execute(_SELECT + " WHERE subject = ? ORDER BY at, id", (subject,))]

    @staticmethod
    def _last_at(tx: Tx, subject: str) -> str | None:
        rows = tx.execute("SELECT last_at FROM current_subjects WHERE subject = ?", (subject,))
        return rows[0][0] if rows else None

    def facts_at(self, subject: str, at: datetime | None = None) -> tuple[list[Held], bool]:
        """The facts holding at `at` (default now) and whether the store knows the subject at all.
        At or after the subject's latest event they are its current facts (one indexed read);
        before it, the events up to `at` decide."""
        when = format_time(at or utc_now())
        with self.backend.transaction(write=False) as tx:
            last = self._last_at(tx, subject)
            if last is None:
                return [], False
            if last <= when:
                rows = tx.execute("SELECT subject, fact, event_id, at FROM current_facts WHERE subject = ? "
                                  "AND kind = 'begin' ORDER BY fact", (subject,))
                return [Held(fact, event_id, since) for _, fact, event_id, since in rows], True
            rows = tx.execute(latest_facts(self.dialect, "AND subject = ?") + " ORDER BY fact", (when, subject))
            known = bool(rows) or bool(tx.execute("SELECT 1 FROM events WHERE subject = ? AND at <= ? LIMIT 1",
                                                  (subject, when)))
        return [Held(fact, event_id, since) for _, fact, event_id, since in rows], known

    def held(self, subject: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Each (category, source) collected about the subject up to `at`, with its first and last time."""
        when = format_time(at or utc_now())
        with self.backend.transaction(write=False) as tx:
            last = self._last_at(tx, subject)
            if last is None:
                return []
            if last <= when:
                rows = tx.execute("SELECT category, source, first_at, last_at, events FROM current_data "
                                  "WHERE subject = ? ORDER BY category, source", (subject,))
            else:
                rows = tx.execute("SELECT category, COALESCE(source, ''), MIN(at), MAX(at), COUNT(*) FROM events "
                                  "WHERE kind = 'collected' AND subject = ? AND at <= ? GROUP BY category, "
                                  "COALESCE(source, '') ORDER BY category, COALESCE(source, '')", (subject, when))
        return [{"category": c, "source": s or None, "first_collected": show_time(a), "last_collected": show_time(b),
                 "events": n} for c, s, a, b, n in rows]

    def last_collected(self, subject: str, category: str, source: str | None, at: datetime) -> str | None:
        """The last time data of `category` (or a narrower term of it), from `source` (or a narrower
        one) when given, was collected about the subject up to `at` (stored form), or None. A narrower
        term `a.b` sorts between `a.` and `a/` (`/` follows `.`), so both are text ranges."""
        sql = ("SELECT MAX(at) FROM events WHERE kind = 'collected' AND subject = ? AND at <= ? "
               "AND (category = ? OR (category > ? AND category < ?))")
        params: list[Any] = [subject, format_time(at), category, category + ".", category + "/"]
        if source is not None:
            sql += " AND (source = ? OR (source > ? AND source < ?))"
            params += [source, source + ".", source + "/"]
        with self.backend.transaction(write=False) as tx:
            rows = tx.execute(sql, params)
        return rows[0][0] if rows and rows[0][0] is not None else None

    def requests(self, subject: str) -> list[dict[str, Any]]:
        with self.backend.transaction(write=False) as tx:
            rows = tx.execute("SELECT id, subject, kind, received_at, channel, note FROM requests WHERE "
                              "subject = ? ORDER BY received_at, id", (subject,))
        return [_request(r) for r in rows]

    def tombstone(self, subject: str) -> dict[str, Any] | None:
        with self.backend.transaction(write=False) as tx:
            stone = self._tombstone(tx, subject)
        return None if stone is None else {"forgotten_at": show_time(stone[0]), "request_id": stone[1]}

    def count_events(self) -> int:
        with self.backend.transaction(write=False) as tx:
            return int(tx.execute("SELECT COUNT(*) FROM events")[0][0])


def _request(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(("id", "subject", "kind", "received_at", "channel", "note"), row))
    out["received_at"] = show_time(out["received_at"])
    return {k: v for k, v in out.items() if v is not None}
