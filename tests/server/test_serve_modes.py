"""`serve` beyond the defaults: several worker processes (metrics summed, SIGHUP reaching every
worker, one decision log), the decision log as JSON lines on stdout, and startup refusals."""

from __future__ import annotations

import json
import os
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


def _listening(port: int) -> int:
    """How many sockets listen on `port` (Linux /proc): with SO_REUSEPORT, one per started worker."""
    return sum(int(line.split()[1].rsplit(":", 1)[1], 16) == port and line.split()[3] == "0A"
               for table in ("/proc/net/tcp", "/proc/net/tcp6") for line in Path(table).read_text().splitlines()[1:])


def _wait_listening(port: int, n: int) -> None:
    deadline = time.monotonic() + 30
    while _listening(port) < n:
        assert time.monotonic() < deadline, f"{_listening(port)} of {n} workers listen"
        time.sleep(0.1)


def _connections_by_worker(supervisor: int, port: int) -> dict[int, int]:
    """Linux /proc: each worker process of `supervisor` -> how many established connections to
    `port` it holds (the sockets among its file descriptors that /proc/net/tcp lists so)."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])
    counts = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) != supervisor:
                continue
            fds = list((stat.parent / "fd").iterdir())
        except (OSError, ValueError):
            continue
        inodes = set()
        for fd in fds:
            try:
                target = fd.readlink().name
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        if "spawn_main" in (stat.parent / "cmdline").read_bytes().decode(errors="replace") or inodes & established:
            counts[int(stat.parent.name)] = len(inodes & established)
    return counts


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_a_burst_of_connections_is_spread_over_the_workers(workdir):
    """Each worker has a listening socket of its own (SO_REUSEPORT, cli/serve_workers.py): the
    kernel spreads new connections over them, so a burst (a client's pool opening) does not land on
    whichever worker woke first. 32 connections opened at once: each worker holds a fair share."""
    import socket

    srv = start(workdir, Path("policies/open_e.policy"), "--workers", "2", "--no-decision-log")
    conns = []
    try:
        body = json.dumps(Q).encode()
        request = (b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        _wait_listening(srv.port, 2)  # the server is ready once one worker is; the kernel picks among listening ones
        conns = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(32)]
        for c in conns:
            c.sendall(request)
        for c in conns:
            assert c.recv(65536).startswith(b"HTTP/1.1 200"), "answered, by whichever worker holds it"
        counts = _connections_by_worker(srv.proc.pid, srv.port)
        assert len(counts) == 2 and sum(counts.values()) == 32, counts
        assert min(counts.values()) >= 6, f"a lopsided split of 32 connections: {counts}"
        for c in conns:
            c.close()

        # A worker that dies is started again with its own socket back: the burst is spread again
        dead = min(counts)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            workers = _connections_by_worker(srv.proc.pid, srv.port)
            if len(workers) == 2 and dead not in workers and httpx.get(srv.url + "/readyz").status_code == 200:
                break
            assert time.monotonic() < deadline, workers
            time.sleep(0.2)
        _wait_listening(srv.port, 2)
        conns = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(32)]
        for c in conns:
            c.sendall(request)
        assert all(c.recv(65536).startswith(b"HTTP/1.1 200") for c in conns)
        counts = _connections_by_worker(srv.proc.pid, srv.port)
        assert len(counts) == 2 and dead not in counts and min(counts.values()) >= 6, counts
    finally:
        for c in conns:
            c.close()
        srv.stop()


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
