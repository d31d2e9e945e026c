"""Decision logs as older servers wrote them (schema versions 1 to 4), for the tests that check
a newer server migrates and reads them (test_decision_ids.py, test_batch_rows.py): one single
decision's row each, and in versions 3 and 4 a batch row after it."""

from __future__ import annotations

import json
import sqlite3
import struct
import time
from pathlib import Path
from typing import Any

import policy_engine
from policy_engine.server.log_schema import _float32

from paths import OPEN_E

# The answers table and the view's columns as versions 1 and 2 made them.
_V12_ANSWERS = """CREATE TABLE answers (key TEXT PRIMARY KEY, decision TEXT NOT NULL, requires TEXT, would_allow_if TEXT,
                      rules TEXT NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID;"""
_V12_COLUMNS = """SELECT d.id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time,
           json_extract(d.query, '$.action') AS action, json_extract(d.query, '$.data') AS data,
           json_extract(d.query, '$.source') AS source, json_extract(d.query, '$.purpose') AS purpose,
           json_extract(d.query, '$.recipient') AS recipient, json_extract(d.query, '$.facts') AS facts,
           d.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest, d.latency_us"""

# What a version 1 server wrote: no decision ids, no traceparent.
VERSION_1 = f"""
{_V12_ANSWERS}
CREATE TABLE decisions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, query TEXT NOT NULL,
                        answer TEXT NOT NULL REFERENCES answers (key), latency_us REAL NOT NULL);
CREATE INDEX decisions_ts ON decisions (ts);
CREATE VIEW decision_log AS
    {_V12_COLUMNS}
    FROM decisions AS d JOIN answers AS a ON a.key = d.answer;
"""


# What a version 2 server wrote: decision ids and traceparent, one row per decision.
VERSION_2 = f"""
{_V12_ANSWERS}
CREATE TABLE decisions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, query TEXT NOT NULL,
                        answer TEXT NOT NULL REFERENCES answers (key), latency_us REAL NOT NULL,
                        decision_id TEXT, traceparent TEXT);
CREATE INDEX decisions_ts ON decisions (ts);
CREATE VIEW decision_log AS
    {_V12_COLUMNS},
           d.decision_id, d.traceparent
    FROM decisions AS d JOIN answers AS a ON a.key = d.answer;
PRAGMA user_version = 2;
"""


# What a version 3 server wrote: batch rows (n set) naming their queries by queries.id and their
# answers by key; answers keyed by key alone. Its view's latency decoding is log_schema's, unchanged.
_FIELDS_OF = ", ".join(f"json_extract({{q}}, '$.{f}') AS {f}" for f in ("action", "data", "source", "purpose",
                                                                       "recipient", "facts"))
# The tables and the single rows' half of the view, as versions 3 and 4 both made them.
_BATCH_TABLES = """
CREATE TABLE queries (id INTEGER PRIMARY KEY, query TEXT NOT NULL UNIQUE);
CREATE TABLE decisions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, query TEXT NOT NULL, answer TEXT NOT NULL,
                        latency_us REAL NOT NULL, decision_id TEXT, traceparent TEXT, n INTEGER, latencies_s BLOB,
                        decision_ids);
CREATE INDEX decisions_ts ON decisions (ts);
"""
_SINGLES = f"""
    SELECT d.id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time, {_FIELDS_OF.format(q="d.query")},
           d.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest, d.latency_us, d.decision_id,
           d.traceparent
    FROM decisions AS d JOIN answers AS a ON a.key = d.answer WHERE d.n IS NULL
"""
_BATCH_ID = """CASE WHEN typeof(d.decision_ids) = 'integer'
                THEN substr(d.decision_id, 1, 24) || printf('%012x', d.decision_ids + r.key)
                ELSE json_extract(d.decision_ids, '$[' || r.key || ']') END AS decision_id"""
_BATCH_FROM = "FROM decisions AS d JOIN json_each(d.query) AS r JOIN queries AS q ON q.id = r.value"
VERSION_3 = f"""
CREATE TABLE answers (key TEXT PRIMARY KEY, decision TEXT NOT NULL, requires TEXT, would_allow_if TEXT,
                      rules TEXT NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID;
{_BATCH_TABLES}
CREATE VIEW decision_log AS {_SINGLES}
    UNION ALL
    SELECT d.id - d.n + 1 + r.key AS id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time,
           {_FIELDS_OF.format(q="q.query")}, q.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest,
           round({_float32("d.latencies_s", "r.key")} * 1e6, 3) AS latency_us, {_BATCH_ID}, d.traceparent
    {_BATCH_FROM}
    JOIN answers AS a ON a.key = json_extract(d.answer, '$[' || r.key || ']') WHERE d.n IS NOT NULL;
PRAGMA user_version = 3;
"""


# What a version 4 server wrote: answers with an integer id, which its batch rows name them by (a
# JSON array of ids in `answer`, beside the array of query ids in `query`).
_ELEMENT = "json_extract(d.answer, '$[' || r.key || ']')"
VERSION_4 = f"""
CREATE TABLE answers (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, decision TEXT NOT NULL, requires TEXT,
                      would_allow_if TEXT, rules TEXT NOT NULL, digest TEXT NOT NULL);
{_BATCH_TABLES}
CREATE VIEW decision_log AS {_SINGLES}
    UNION ALL
    SELECT d.id - d.n + 1 + r.key AS id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time,
           {_FIELDS_OF.format(q="q.query")}, q.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest,
           round({_float32("d.latencies_s", "CASE WHEN length(d.latencies_s) = 4 THEN 0 ELSE r.key END")} * 1e6, 3)
               AS latency_us, {_BATCH_ID}, d.traceparent
    {_BATCH_FROM}
    JOIN answers AS a ON a.id = CASE WHEN typeof({_ELEMENT}) = 'integer' THEN {_ELEMENT}
                                     ELSE (SELECT id FROM answers WHERE key = {_ELEMENT}) END
    WHERE d.n IS NOT NULL;
PRAGMA user_version = 4;
"""


def _text(query: dict[str, Any]) -> str:
    return json.dumps(query, separators=(",", ":"))


def old_log(path: Path, schema: str, query: dict[str, Any], decision_id: str | None = None,
            batch: list[dict[str, Any]] | None = None, batch_ids: list[str] | None = None) -> policy_engine.Policy:
    """A log file in `schema` (VERSION_1 to 4) holding one decision of `query` on Open-E, five
    seconds old; with `decision_id` (version 2 or later) as its id. VERSION_3 or 4 with `batch`: then
    a batch row of those queries, four seconds old, with the ids `batch_ids` (whose last 12 hex digits
    count up from the first's: stored as a number, as those versions did) and the latencies 1, 2, 3...
    µs; its answers named by key (version 3) or by id (version 4). Returns the policy that decided them."""
    policy = policy_engine.load(OPEN_E)
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    keys: dict[str, str] = {}

    def key_of(q: dict[str, Any]) -> str:
        answer = policy.decide(q).to_dict()
        body = json.dumps(answer, sort_keys=True)
        if body not in keys:
            keys[body] = f"k{len(keys) + 1}"
            conn.execute("INSERT INTO answers (key, decision, requires, would_allow_if, rules, digest) "
                         "VALUES (?, ?, ?, NULL, ?, ?)",
                         (keys[body], answer["decision"], answer.get("requires"), json.dumps(answer["reasons"]),
                          policy.digest))
        return keys[body]

    columns, values = "ts, query, answer, latency_us", [time.time() - 5, _text(query), key_of(query)]
    if decision_id is not None:
        columns += ", decision_id"
        values.append(decision_id)
    marks = "?, ?, ?, 3.5" + ", ?" * (decision_id is not None)
    conn.execute(f"INSERT INTO decisions ({columns}) VALUES ({marks})", values)
    if batch:
        assert batch_ids is not None and len(batch_ids) == len(batch)
        query_ids = []
        for q in batch:
            conn.execute("INSERT OR IGNORE INTO queries (query) VALUES (?)", (_text(q),))
            query_ids.append(conn.execute("SELECT id FROM queries WHERE query = ?", (_text(q),)).fetchone()[0])
        latencies = [(i + 1) / 1e6 for i in range(len(batch))]
        answers: list[Any] = [key_of(q) for q in batch]
        if schema is VERSION_4:
            answers = [conn.execute("SELECT id FROM answers WHERE key = ?", (k,)).fetchone()[0] for k in answers]
        conn.execute("INSERT INTO decisions (id, ts, query, answer, latency_us, decision_id, n, latencies_s, decision_ids) "
                     "VALUES ((SELECT max(id) FROM decisions) + ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (len(batch), time.time() - 4, json.dumps(query_ids), json.dumps(answers),
                      sum(latencies) * 1e6, batch_ids[0], len(batch), struct.pack(f"<{len(batch)}f", *latencies),
                      int(batch_ids[0][24:], 16)))
    conn.commit()
    conn.close()
    return policy
