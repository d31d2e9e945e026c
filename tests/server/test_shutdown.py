"""Graceful shutdown of a real `serve` process: SIGTERM stops new connections, lets the requests
in flight finish with their answers (here: clients still sending their bodies), then flushes the
decision log, so every answered decision is in the SQLite file after exit. `--shutdown-timeout`
bounds the wait for a request that never finishes."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from .conftest import OPEN_E, Server, assert_clean_log

pytestmark = pytest.mark.slow  # starts server processes


def query(purpose: str) -> bytes:
    return json.dumps({"action": "use", "data": "email", "source": "contact", "purpose": purpose,
                       "facts": ["newsletter_form"]}).encode()


def begin(port: int, path: str, body: bytes, sent: int) -> socket.socket:
    """A request whose headers and first `sent` body bytes are on the wire, the rest held back."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[:sent])
    return sock


def finish(sock: socket.socket, body: bytes, sent: int) -> tuple[int, dict]:
    sock.sendall(body[sent:])
    raw = b""
    while chunk := sock.recv(65536):  # the server closes the connection once it has answered
        raw += chunk
    sock.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"connection: close" in head.lower()
    return status, json.loads(payload)


def wait_refused(port: int) -> None:
    """Until the listening socket is closed: the server has begun its shutdown."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        assert time.monotonic() < deadline, "the server kept accepting connections after SIGTERM"
        time.sleep(0.02)


def logged(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT purpose, decision FROM decision_log ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_drains_in_flight_requests_and_flushes_the_log(tmp_path, workers):
    db = tmp_path / "decisions.sqlite3"
    srv = Server(tmp_path, OPEN_E, "--decision-log", str(db), "--workers", workers).wait_ready()
    with srv.client() as http:  # answered before the signal
        for _ in range(50):
            assert http.post("/v1/decide", content=query("marketing")).status_code == 200
    one, batch = query("marketing.newsletter"), json.dumps(
        {"queries": [json.loads(query("analytics")), json.loads(query("marketing.newsletter"))]}).encode()
    slow = [(begin(srv.port, "/v1/decide", one, 10), one), (begin(srv.port, "/v1/decide/batch", batch, 20), batch)]
    time.sleep(0.2)  # let the server read the headers (the requests are in flight)
    srv.signal(signal.SIGTERM)
    wait_refused(srv.port)  # with workers too: the supervisor closes its copy of the listening socket
    assert srv.proc.poll() is None, "the server exited with requests in flight"
    (s1, a1), (s2, a2) = (finish(sock, body, 10 if body is one else 20) for sock, body in slow)
    assert s1 == 200 and a1["decision"] == "allow"
    assert s2 == 200 and [a["decision"] for a in a2["answers"]] == ["deny", "allow"]
    # one process re-raises the SIGTERM it handled (uvicorn's way: exit status 143), a supervisor exits 0
    assert srv.proc.wait(60) == (-signal.SIGTERM if workers == "1" else 0)
    rows = logged(db)
    assert len(rows) == 53  # every answer, the three drained ones included
    assert rows.count(("marketing", "conditional")) + rows.count(("marketing", "allow")) == 50
    assert ("marketing.newsletter", "allow") in rows and ("analytics", "deny") in rows
    assert "Application shutdown complete" in srv.stderr()
    assert_clean_log(srv)


def test_shutdown_timeout_bounds_the_wait_and_the_log_is_still_flushed(tmp_path):
    db = tmp_path / "decisions.sqlite3"
    srv = Server(tmp_path, OPEN_E, "--decision-log", str(db), "--shutdown-timeout", "1").wait_ready()
    with srv.client() as http:
        for _ in range(20):
            assert http.post("/v1/decide", content=query("marketing")).status_code == 200
    stuck = begin(srv.port, "/v1/decide", query("analytics"), 5)  # its body never comes
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    assert srv.proc.wait(60) == -signal.SIGTERM  # not the body timeout (30 s): the shutdown timeout cancels it
    stuck.close()
    assert len(logged(db)) == 20
    err = srv.stderr()
    assert "timeout graceful shutdown exceeded" in err and "Application shutdown complete" in err
    with pytest.raises(httpx.TransportError):
        httpx.get(srv.url + "/healthz", timeout=2)
