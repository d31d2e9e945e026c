"""`serve` beyond the defaults: several worker processes (metrics summed, SIGHUP reaching every
worker, one decision log), the decision log as JSON lines on stdout, and startup refusals."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

import policy_engine

from .conftest import ADMIN_TOKEN, OPEN_E, REPO, SCRIPT, assert_clean_log, free_port, start

pytestmark = pytest.mark.slow  # starts server processes

Q = {"action": "collect", "data": "email", "source": "contact", "facts": []}


def test_workers_share_the_port_the_log_and_the_metrics(workdir, token_files):
    path = workdir / "workers.policy"
    path.write_bytes(OPEN_E.read_bytes())
    db = workdir / "workers.sqlite3"
    srv = start(workdir, path, "--workers", "2", "--decision-log", str(db), "--admin-token-file",
                str(token_files["admin"]))
    try:
        for _ in range(100):  # a new connection each time: both workers answer some
            r = httpx.post(srv.url + "/v1/decide", json=Q)
            assert r.status_code == 200 and r.json()["decision"] == "allow"
        # each worker shares what it counted within metrics.MULTIPROCESS_FLUSH_S: a few reads at most
        deadline = time.monotonic() + 5
        while (counted := srv.metric("policy_engine_decisions_total", endpoint="/v1/decide")) != 100:
            assert counted < 100 and time.monotonic() < deadline, counted
            time.sleep(0.02)
        new = OPEN_E.read_bytes() + b"\n# another version\n"
        path.write_bytes(new)
        digest = policy_engine.loads(new.decode(), "x").digest
        srv.signal(signal.SIGHUP)  # to the supervisor, which passes it on to each worker
        deadline = time.monotonic() + 15
        while True:
            seen = {httpx.get(srv.url + "/v1/policy").json()["digest"] for _ in range(20)}
            if seen == {digest}:
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
        newer = new + b"# and one more\n"
        path.write_bytes(newer)
        digest = policy_engine.loads(newer.decode(), "x").digest
        r = httpx.post(srv.url + "/v1/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 200 and r.json()["result"] == "reloaded"  # this worker; the others follow
        deadline = time.monotonic() + 15
        while {httpx.get(srv.url + "/v1/policy").json()["digest"] for _ in range(20)} != {digest}:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        srv.stop()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM decision_log").fetchone()[0] == 100
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert_clean_log(srv)


def test_decision_log_on_stdout_as_json_lines(workdir):
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", "-")
    with srv.client() as http:
        for facts in ([], ["newsletter_form"], None):
            q = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing.newsletter"}
            if facts is not None:
                q["facts"] = facts
            assert http.post("/v1/decide", json=q).status_code == 200
    srv.stop()
    lines = [json.loads(line) for line in srv.stdout().splitlines()]
    assert [rec["decision"] for rec in lines] == ["deny", "allow", "conditional"]
    assert lines[2]["requires"] and lines[2]["facts"] is None and lines[1]["facts"] == ["newsletter_form"]
    assert all(rec["digest"].startswith("sha256:") and rec["rules"] is not None for rec in lines)


def test_a_policy_that_does_not_check_is_not_served(workdir):
    bad = workdir / "bad.policy"
    bad.write_bytes(OPEN_E.read_bytes() + b"\nthis is not a statement\n")
    port = free_port()
    out = subprocess.run([str(SCRIPT), "serve", str(bad), "--port", str(port)], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 4  # EXIT_INVALID: the policy does not check
    assert "parse.unexpected_token" in out.stderr and "not serving" in out.stderr
    assert "Traceback" not in out.stderr


def test_usage_errors(workdir):
    for args, needle in ((["--decision-log", "x", "--no-decision-log"], "contradict"),
                         (["--token-file", str(workdir / "missing")], "token file"),
                         (["--max-body", "lots"], "not a size"),
                         (["--decision-log", str(workdir)], "folder")):
        out = subprocess.run([str(SCRIPT), "serve", "policies/open_e.policy", *args], capture_output=True, text=True,
                             timeout=60, cwd=REPO)
        assert out.returncode == 2 and needle in out.stderr, (args, out.stderr)
