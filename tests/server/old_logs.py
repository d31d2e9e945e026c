"""Decision logs as older servers wrote them (schema versions 1 and 2), one row each, for the tests
that check a newer server migrates and reads them (test_decision_ids.py, test_batch_rows.py)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import policy_engine

from paths import OPEN_E

# What a version 1 server wrote: no decision ids, no traceparent.
VERSION_1 = """
CREATE TABLE answers (key TEXT PRIMARY KEY, decision TEXT NOT NULL, requires TEXT, would_allow_if TEXT,
                      rules TEXT NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE decisions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, query TEXT NOT NULL,
                        answer TEXT NOT NULL REFERENCES answers (key), latency_us REAL NOT NULL);
CREATE INDEX decisions_ts ON decisions (ts);
CREATE VIEW decision_log AS
    SELECT d.id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time,
           json_extract(d.query, '$.action') AS action, json_extract(d.query, '$.data') AS data,
           json_extract(d.query, '$.source') AS source, json_extract(d.query, '$.purpose') AS purpose,
           json_extract(d.query, '$.recipient') AS recipient, json_extract(d.query, '$.facts') AS facts,
           d.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest, d.latency_us
    FROM decisions AS d JOIN answers AS a ON a.key = d.answer;
"""


# What a version 2 server wrote: decision ids and traceparent, one row per decision.
VERSION_2 = """
CREATE TABLE answers (key TEXT PRIMARY KEY, decision TEXT NOT NULL, requires TEXT, would_allow_if TEXT,
                      rules TEXT NOT NULL, digest TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE decisions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, query TEXT NOT NULL,
                        answer TEXT NOT NULL REFERENCES answers (key), latency_us REAL NOT NULL,
                        decision_id TEXT, traceparent TEXT);
CREATE INDEX decisions_ts ON decisions (ts);
CREATE VIEW decision_log AS
    SELECT d.id, d.ts, strftime('%Y-%m-%dT%H:%M:%fZ', d.ts, 'unixepoch') AS time,
           json_extract(d.query, '$.action') AS action, json_extract(d.query, '$.data') AS data,
           json_extract(d.query, '$.source') AS source, json_extract(d.query, '$.purpose') AS purpose,
           json_extract(d.query, '$.recipient') AS recipient, json_extract(d.query, '$.facts') AS facts,
           d.query, a.decision, a.requires, a.would_allow_if, a.rules, a.digest, d.latency_us,
           d.decision_id, d.traceparent
    FROM decisions AS d JOIN answers AS a ON a.key = d.answer;
PRAGMA user_version = 2;
"""



def old_log(path: Path, schema: str, query: dict[str, Any], decision_id: str | None = None) -> policy_engine.Policy:
    """A log file in `schema` (VERSION_1 or VERSION_2) holding one decision of `query` on Open-E, five
    seconds old; with `decision_id` (version 2 only) as its id. Returns the policy that decided it."""
    policy = policy_engine.load(OPEN_E)
    answer = policy.decide(query).to_dict()
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    conn.execute("INSERT INTO answers VALUES ('k1', ?, ?, NULL, ?, ?)",
                 (answer["decision"], answer.get("requires"), json.dumps(answer["reasons"]), policy.digest))
    columns, values = ("ts, query, answer, latency_us", [time.time() - 5, json.dumps(query, separators=(",", ":"))])
    if decision_id is not None:
        columns += ", decision_id"
        values.append(decision_id)
    marks = "?, ?, 'k1', 3.5" + ", ?" * (decision_id is not None)
    conn.execute(f"INSERT INTO decisions ({columns}) VALUES ({marks})", values)
    conn.commit()
    conn.close()
    return policy
