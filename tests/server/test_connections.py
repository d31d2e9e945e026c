"""Connection hygiene (issue 15 item 5): slow (slowloris), idle, oversized-header and too many
clients, on loopback and bounded, each get closed or refused with a status, while a well-behaved
client keeps getting answers. No timing is asserted: each hostile connection is shown closed by
the server (recv returns b"" or a response), and good requests succeed between and after."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from .conftest import Server, assert_clean_log, start

pytestmark = pytest.mark.slow  # starts server processes

REQUEST = (b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n")
QUERY = b'{"action": "collect", "data": "cookie.analytics", "source": "website"}'


@pytest.fixture(scope="module")
def guarded(workdir: Path) -> Server:
    srv = start(workdir, Path("policies/open_e.policy"), "--no-decision-log", "--keep-alive-timeout", "0.5",
                "--header-timeout", "0.5", "--body-timeout", "0.5", "--max-header-size", "8KiB",
                "--max-headers", "50")
    yield srv
    srv.stop()
    assert_clean_log(srv)


def connect(srv: Server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return s


def read_until_closed(s: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (the socket timeout bounds a server that never does)."""
    out = b""
    while len(out) < limit:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk
    raise AssertionError("the server kept sending")


def read_response(s: socket.socket, limit: int = 1 << 20) -> bytes:
    """One whole HTTP response: the head, then as many body bytes as Content-Length says (a loaded
    machine may deliver it in several segments; the socket timeout bounds a server that stalls)."""
    out = b""
    while b"\r\n\r\n" not in out and len(out) < limit:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def good_answer(srv: Server) -> None:
    with srv.client() as http:
        answer = http.post("/v1/decide", content=QUERY, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["decision"] in ("allow", "deny", "conditional")


def test_an_idle_connection_is_closed(guarded):
    s = connect(guarded)
    good_answer(guarded)
    assert read_until_closed(s) == b"", "closed without a word: it never asked anything"
    s.close()


def test_an_idle_keep_alive_connection_is_closed_even_if_it_sends_blank_lines(guarded):
    s = connect(guarded)
    s.sendall(REQUEST % len(QUERY) + QUERY)
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    for _ in range(200):  # stray line ends between requests must not keep it open
        try:
            s.sendall(b"\r\n")
        except OSError:
            break
        time.sleep(0.02)
    try:
        rest = read_until_closed(s)
    except ConnectionResetError:
        rest = b""
    assert b"HTTP/1.1 200" not in rest
    s.close()
    good_answer(guarded)


def test_slowloris_headers_get_408_and_close(guarded):
    s = connect(guarded)
    head = REQUEST % len(QUERY)
    got = b""
    for i in range(len(head)):  # one byte every 50 ms: far slower than the 0.5 s header budget allows
        try:
            s.sendall(head[i:i + 1])
        except OSError:
            break
        time.sleep(0.05)
        s.setblocking(False)
        try:
            got = s.recv(65536)
        except BlockingIOError:
            got = b""
        finally:
            s.setblocking(True)
        if got:
            break
        if i % 5 == 0:
            good_answer(guarded)  # others are answered meanwhile
    assert got.startswith(b"HTTP/1.1 408"), got[:200]
    assert b'"code":"request.header_timeout"' in got
    s.close()
    good_answer(guarded)


def test_a_slow_body_is_cut_off(guarded):
    s = connect(guarded)
    s.sendall(REQUEST % 1000 + b'{"action": ')  # promises 1000 bytes, sends 11
    try:
        rest = read_until_closed(s)
    except ConnectionResetError:
        rest = b""
    assert not rest.startswith(b"HTTP/1.1 200")
    s.close()
    good_answer(guarded)


def test_oversized_headers_get_431_before_they_are_buffered(guarded):
    s = connect(guarded)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    try:
        for _ in range(1000):  # up to 64 MB; the server stops reading long before
            s.sendall(b"a" * 65536)
            sent += 65536
    except OSError:  # the server closed the connection on us
        pass
    try:
        got = read_until_closed(s)
    except ConnectionResetError:
        got = b""
    assert sent < 64 * 65536, "the server refused the header stream early"
    if got:
        assert got.startswith(b"HTTP/1.1 431"), got[:200]
    s.close()
    good_answer(guarded)


def test_a_small_header_over_the_limit_gets_431(guarded):
    s = connect(guarded)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    got = read_until_closed(s)
    assert got.startswith(b"HTTP/1.1 431") and b'"code":"request.headers_too_large"' in got
    s.close()
    good_answer(guarded)


def test_too_many_header_lines_get_431(guarded):
    s = connect(guarded)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(60)) + b"\r\n")
    got = read_response(s)
    assert got.startswith(b"HTTP/1.1 431") and b'"code":"request.too_many_headers"' in got
    s.close()
    good_answer(guarded)


@pytest.fixture(scope="module")
def capped(workdir: Path) -> Server:
    """Idle connections are kept long enough here that only the cap can refuse one."""
    srv = start(workdir, Path("policies/open_e.policy"), "--no-decision-log", "--keep-alive-timeout", "60",
                "--max-connections", "10")
    yield srv
    srv.stop()
    assert_clean_log(srv)


def test_connections_beyond_the_cap_get_503_and_the_others_are_still_served(capped):
    guarded = capped
    held = [connect(guarded) for _ in range(10)]  # the cap: every further one is refused
    try:
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # a held one is still served
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")
        refused = [connect(guarded) for _ in range(5)]
        replies = []
        for s in refused:
            try:
                replies.append(read_until_closed(s))
            except ConnectionResetError:
                replies.append(b"")
            s.close()
        assert any(r.startswith(b"HTTP/1.1 503") for r in replies), replies
        assert all(r == b"" or r.startswith(b"HTTP/1.1 503") for r in replies)
        assert b"retry-after: 1" in next(r for r in replies if r)
    finally:
        for s in held:
            s.close()
    for _ in range(100):  # bounded: the server notices the closed ones and has room again
        try:
            good_answer(guarded)
            break
        except AssertionError:
            time.sleep(0.05)
    good_answer(guarded)
