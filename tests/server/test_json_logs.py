"""`--log-format json`: every line the server writes, server log and access log, one process or
a supervisor and its workers, is one JSON object (time, level, logger, message; an access line
adds request_id, method, path, status, duration_ms), and none holds a query's content, a fact or
a subject id (issue 11's rule)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import OPEN_E, Server

pytestmark = pytest.mark.slow  # starts server processes

SECRET_FACT = "zz_evidence_7731"  # an unknown fact: the error answer names it, the log must not
SECRET_SUBJECT = "subject-5521-secret"
SECRET_EVIDENCE = "signed form 8812"


def lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        record = json.loads(line)  # every line is JSON, nothing else
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        datetime.fromisoformat(record["time"])
        assert record["level"] in {"debug", "info", "warning", "error", "critical"}
        out.append(record)
    return out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_line_is_json_and_access_lines_carry_the_request(tmp_path: Path, workers: str):
    tokens = tmp_path / "subjects.tokens"
    tokens.write_text("subject-writer subjects:read subjects:write\n")
    srv = Server(tmp_path, OPEN_E, "--decision-log", str(tmp_path / "d.sqlite3"), "--workers", workers,
                 "--subject-store", str(tmp_path / "subjects.sqlite3"), "--subject-tokens", str(tokens),
                 env={"POLICY_ENGINE_LOG_FORMAT": "json", "POLICY_ENGINE_ACCESS_LOG": "true"}).wait_ready()
    q = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing.newsletter",
         "facts": ["newsletter_form"]}
    with srv.client(headers={"X-Request-ID": "req-json-1"}) as http:
        assert http.post("/v1/decide", json=q).json()["decision"] == "allow"
        bad = http.post("/v1/decide?trace=1", json={**q, "facts": [SECRET_FACT]})
        assert bad.status_code == 422 and SECRET_FACT in bad.text
        http.get("/readyz")
    event = {"kind": "begin", "fact": "newsletter_form", "at": "2026-01-01T00:00:00Z", "evidence": SECRET_EVIDENCE}
    with srv.client("subject-writer") as http:
        assert http.post(f"/v1/subjects/{SECRET_SUBJECT}/events", json=event).status_code == 201
        assert http.get(f"/v1/subjects/{SECRET_SUBJECT}").status_code == 200
    srv.stop()
    out, err = srv.stdout(), srv.stderr()
    access, server = lines(out), lines(err)
    assert [r["logger"] for r in access] == ["policy_engine.access"] * len(access)
    first = next(r for r in access if r["path"] == "/v1/decide" and r["status"] == 200)
    assert first["request_id"] == "req-json-1" and first["method"] == "POST" and first["level"] == "info"
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert first["message"].startswith("POST /v1/decide 200 ")
    assert {(r["path"], r["status"]) for r in access} >= {
        ("/v1/decide", 422), ("/readyz", 200), ("/v1/subjects/{subject}/events", 201), ("/v1/subjects/{subject}", 200)}
    assert all(r["request_id"] for r in access)
    loggers = {r["logger"] for r in server}
    assert {"uvicorn.error", "policy_engine.server"} <= loggers
    assert sum("Started server process" in r["message"] for r in server) == int(workers)
    assert any("decision log:" in r["message"] and "flushed" in r["message"] for r in server)
    for text in (out, err):
        assert SECRET_FACT not in text and SECRET_SUBJECT not in text and SECRET_EVIDENCE not in text
        assert "newsletter_form" not in text and "trace=1" not in text
        assert "Traceback" not in text


def test_text_stays_the_default(tmp_path: Path):
    srv = Server(tmp_path, OPEN_E, "--no-decision-log", "--access-log").wait_ready()
    with srv.client() as http:
        http.get("/healthz")
    srv.stop()
    assert "INFO:     Application startup complete." in srv.stderr()
    assert '"GET /healthz HTTP/1.1" 200' in srv.stdout()
