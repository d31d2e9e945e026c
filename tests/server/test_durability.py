"""The decision log survives its server: SIGTERM flushes every queued row; SIGKILL under load
leaves an intact database (integrity_check ok, every row whole) holding at least every row the
server had acknowledged as flushed (its /metrics counter) before the kill."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from .conftest import assert_clean_log, start, sum_metric

pytestmark = pytest.mark.slow  # starts server processes

FLUSHED = "policy_engine_decision_log_flushed_rows_total"
QUERIES = [{"action": "use", "data": "email", "source": "forum", "purpose": "marketing", "facts": []},
           {"action": "collect", "data": "cookie.analytics", "source": "website"},
           {"action": "share", "data": "name", "source": "purchase", "recipient": "service_provider"},
           {"action": "retain", "data": "email", "purpose": "accounting", "facts": ["legal_requirement"]}]


def check_rows(db: Path, digest: str) -> int:
    conn = sqlite3.connect(db)  # read-write: a crashed WAL is recovered on open
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT id, query, decision, rules, digest, time, latency_us FROM decision_log "
                            "ORDER BY id").fetchall()
        # a batch row holds n decisions (log_schema.py): the view has one row for each, with its answer
        assert conn.execute("SELECT sum(coalesce(n, 1)) FROM decisions").fetchone()[0] == len(rows) or not rows, \
            "every decision has its answer"
    finally:
        conn.close()
    for i, (row_id, query, decision, rules, row_digest, when, latency) in enumerate(rows, start=1):
        assert row_id == i, "no gaps: batches are whole transactions"
        assert json.loads(query) in QUERIES
        assert decision in ("allow", "deny", "conditional") and row_digest == digest
        assert isinstance(json.loads(rules), list) and when.endswith("Z") and latency >= 0
    return len(rows)


def test_sigterm_flushes_every_queued_row(workdir):
    db = workdir / "sigterm.sqlite3"
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db))
    with srv.client() as http:
        digest = http.get("/v1/policy").json()["digest"]
        for _ in range(30):
            assert http.post("/v1/decide/batch", json={"queries": QUERIES * 25}).status_code == 200
        assert http.post("/v1/decide", json=QUERIES[0]).status_code == 200
    assert srv.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    assert check_rows(db, digest) == 30 * 100 + 1
    assert "3001 rows flushed in all" in srv.stderr()
    assert_clean_log(srv)


def test_sigkill_under_load_loses_no_acknowledged_row(workdir):
    db = workdir / "sigkill.sqlite3"
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db))
    digest = httpx.get(srv.url + "/v1/policy").json()["digest"]
    stop = threading.Event()
    answered = [0]

    def load() -> None:
        try:
            with srv.client(timeout=5) as http:
                for _ in range(5000):  # bounded; the kill ends it long before
                    if stop.is_set():
                        return
                    if http.post("/v1/decide/batch", json={"queries": QUERIES * 50}).status_code == 200:
                        answered[0] += 200
        except httpx.TransportError:  # the server is gone
            return

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    acknowledged = 0.0
    deadline = time.monotonic() + 3.0
    with httpx.Client(timeout=5) as http:
        while time.monotonic() < deadline:
            acknowledged = max(acknowledged, sum_metric(http.get(srv.url + "/metrics").text, FLUSHED))
            time.sleep(0.02)
        acknowledged = max(acknowledged, sum_metric(http.get(srv.url + "/metrics").text, FLUSHED))
    srv.kill()  # SIGKILL, mid-load: no shutdown code runs
    stop.set()
    for t in threads:
        t.join(30)
    assert srv.proc.returncode == -9
    assert acknowledged > 1000, "the load did reach the log"
    rows = check_rows(db, digest)
    print(f"SIGKILL: {acknowledged:.0f} acknowledged, {rows} rows, {answered[0]} answered")
    assert rows >= acknowledged, f"{rows} rows in the file, {acknowledged:.0f} acknowledged as flushed"
    assert rows <= answered[0] + 200 * len(threads)


def test_audit_mode_sigkill_loses_no_acknowledged_answer(workdir):
    """--decision-log-mode audit: an answer is sent only once its row is committed, so after a SIGKILL
    under load every answer a client received is in the file (per question, rows >= answers)."""
    db = workdir / "audit-sigkill.sqlite3"
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db), "--decision-log-mode", "audit")
    digest = httpx.get(srv.url + "/v1/policy").json()["digest"]
    acked: list[dict[str, int]] = []

    def load(n: int) -> None:
        got: dict[str, int] = {}
        acked.append(got)
        try:
            with srv.client(timeout=5) as http:
                for i in range(20_000):  # bounded; the kill ends it long before
                    q = QUERIES[(i + n) % len(QUERIES)]
                    if i % 3 == 0:
                        answer = http.post("/v1/decide/batch", json={"queries": [q] * 10})
                        if answer.status_code == 200:
                            got[json.dumps(q)] = got.get(json.dumps(q), 0) + len(answer.json()["answers"])
                    else:
                        answer = http.post("/v1/decide", json=q)
                        if answer.status_code == 200:
                            got[json.dumps(q)] = got.get(json.dumps(q), 0) + 1
        except httpx.TransportError:  # the server is gone
            return

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(600):  # bounded: until a good many answers are out, 30 s at most
        if sum(sum(g.values()) for g in acked) >= 3000:
            break
        time.sleep(0.05)
    srv.kill()  # SIGKILL, mid-load
    for t in threads:
        t.join(30)
    assert srv.proc.returncode == -9
    total = sum(sum(g.values()) for g in acked)
    assert total >= 1000, "the load did reach the server"
    rows = check_rows(db, digest)
    conn = sqlite3.connect(db)
    try:
        logged = {json.dumps(json.loads(q)): n for q, n in
                  conn.execute("SELECT query, count(*) FROM decision_log GROUP BY query")}
    finally:
        conn.close()
    for q in QUERIES:
        answered = sum(g.get(json.dumps(q), 0) for g in acked)
        assert logged.get(json.dumps(q), 0) >= answered, f"{q}: {answered} answered, {logged.get(json.dumps(q))} logged"
    print(f"audit SIGKILL: {total} answers received, {rows} rows in the log, none missing")
