"""The subject store's current state, kept beside the append-only events so the retention sweep and
subject decisions need not replay every history.

Three tables, written in the same transaction as the event they follow (so a SIGKILL leaves both or
neither, and the per-subject lock that serialises writers of a subject serialises these too):
- `current_facts`: per (subject, fact) the latest begin/end by (at, id): late events dated earlier
  do not overwrite a later one; an `end` row is kept, since a late `begin` dated before it must
  not make the fact hold again;
- `current_data`: per (subject, category, source) the first and last collection time and a count;
- `current_subjects`: per subject the facts holding now as one sorted comma-joined text (the
  sweep's group key) and the time of its latest event.

They describe the subject as of its latest event. A question about an instant before a subject's
latest event (`last_at > at`) cannot use them and reads the events (store.py's `latest_facts`);
the sweep does both in SQL, picking per subject by `last_at`.

`rebuild` fills the tables from the events in set-based SQL: migration 3 runs it for stores that
predate the tables, and a bulk load (the benchmark) calls it after inserting events directly.
"""

from __future__ import annotations

from typing import Any

# The facts holding now for one subject (`?` = the subject), as the sorted comma-joined group key.
_FACTSET = {
    "postgresql": "(SELECT string_agg(fact, ',' ORDER BY fact) FROM current_facts WHERE subject = ? AND kind = 'begin')",
    "sqlite": "(SELECT group_concat(fact, ',') FROM (SELECT fact FROM current_facts WHERE subject = ? "
              "AND kind = 'begin' ORDER BY fact))",
}

_UPSERT_FACT = (
    "INSERT INTO current_facts (subject, fact, kind, event_id, at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (subject, fact) DO UPDATE SET kind = excluded.kind, event_id = excluded.event_id, at = excluded.at "
    "WHERE excluded.at >= current_facts.at")  # a tie in time: the later-recorded event wins, as in latest_facts

_UPSERT_DATA = (
    "INSERT INTO current_data (subject, category, source, first_at, last_at, events) VALUES (?, ?, ?, ?, ?, 1) "
    "ON CONFLICT (subject, category, source) DO UPDATE SET "
    "first_at = CASE WHEN excluded.first_at < current_data.first_at THEN excluded.first_at ELSE current_data.first_at END, "
    "last_at = CASE WHEN excluded.last_at > current_data.last_at THEN excluded.last_at ELSE current_data.last_at END, "
    "events = current_data.events + 1")

_UPSERT_SUBJECT = (
    "INSERT INTO current_subjects (subject, factset, last_at) VALUES (?, COALESCE({factset}, ''), ?) "
    "ON CONFLICT (subject) DO UPDATE SET factset = excluded.factset, "
    "last_at = CASE WHEN excluded.last_at > current_subjects.last_at THEN excluded.last_at "
    "ELSE current_subjects.last_at END")

# Migration placeholders per dialect (backends.py substitutes them into the .sql files).
SCHEMA_WORDS = {"postgresql": {"without_rowid": "", "bigint": "BIGINT"},
                "sqlite": {"without_rowid": "WITHOUT ROWID", "bigint": "INTEGER"}}


def apply(tx: Any, dialect: str, event: Any, event_id: int) -> None:
    """Fold one newly inserted event (a model.NewEvent and its id) into the current tables."""
    if event.kind == "collected":
        tx.execute(_UPSERT_DATA, (event.subject, event.category, event.source or "", event.at, event.at))
    else:
        tx.execute(_UPSERT_FACT, (event.subject, event.fact, event.kind, event_id, event.at))
    tx.execute(_UPSERT_SUBJECT.format(factset=_FACTSET[dialect]), (event.subject, event.subject, event.at))


def forget(tx: Any, subject: str) -> None:
    for table in ("current_facts", "current_data", "current_subjects"):
        tx.execute(f"DELETE FROM {table} WHERE subject = ?", (subject,))


_LATEST_ALL = {
    "postgresql": "SELECT DISTINCT ON (subject, fact) subject, fact, kind, id, at FROM events "
                  "WHERE fact IS NOT NULL ORDER BY subject, fact, at DESC, id DESC",
    "sqlite": "SELECT subject, fact, kind, id, at FROM (SELECT subject, fact, kind, id, at, "
              "max(at || printf('%012d', id)) FROM events WHERE fact IS NOT NULL GROUP BY subject, fact)",
}
_FACTSETS = {
    "postgresql": "SELECT subject, string_agg(fact, ',' ORDER BY fact) AS factset FROM current_facts "
                  "WHERE kind = 'begin' GROUP BY subject",
    "sqlite": "SELECT subject, group_concat(fact, ',') AS factset FROM (SELECT subject, fact FROM current_facts "
              "WHERE kind = 'begin' ORDER BY subject, fact) GROUP BY subject",
}


def rebuild(tx: Any, dialect: str) -> None:
    """Recompute the current tables from the events, in four set-based statements."""
    forget_all = ("DELETE FROM current_facts", "DELETE FROM current_data", "DELETE FROM current_subjects")
    for statement in forget_all:
        tx.execute(statement)
    tx.execute("INSERT INTO current_facts (subject, fact, kind, event_id, at) " + _LATEST_ALL[dialect])
    tx.execute("INSERT INTO current_data (subject, category, source, first_at, last_at, events) "
               "SELECT subject, category, COALESCE(source, ''), MIN(at), MAX(at), COUNT(*) FROM events "
               "WHERE kind = 'collected' GROUP BY subject, category, COALESCE(source, '')")
    tx.execute("INSERT INTO current_subjects (subject, factset, last_at) "
               f"SELECT e.subject, COALESCE(f.factset, ''), e.last_at FROM (SELECT subject, MAX(at) AS last_at "
               f"FROM events GROUP BY subject) e LEFT JOIN ({_FACTSETS[dialect]}) f ON f.subject = e.subject")
