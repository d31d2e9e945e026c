"""The decision endpoints answered inside the HTTP protocol (server/direct.py) against the ASGI path,
on a real server over raw sockets: the same bytes (but the date and the ids), pipelined requests
mixing both paths answered in order, and every request the protocol does not answer itself
(HTTP/1.0, Connection: close, Expect, a chunked body, a memo miss, a subject question, auth
failures, audit mode) answered as before. Every direct answer has its log row and its metrics."""

from __future__ import annotations

import gzip
import json
import re
import socket
import sqlite3
import ssl
import time
from pathlib import Path

import httpx
import pytest
import trustme

from .conftest import DECIDE_TOKEN, UUID7, Server, assert_clean_log, start, sum_metric, without_id

pytestmark = pytest.mark.slow  # starts server processes

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def request(path: str, body: bytes, *headers: str, version: str = "1.1", chunked: bool = False) -> bytes:
    lines = [f"POST {path} HTTP/{version}", "Host: 127.0.0.1", "Content-Type: application/json", *headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]) if part) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def connect(srv: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=10)


class Reader:
    """Whole HTTP responses off one socket, in order (Content-Length bodies; 100 Continue skipped)."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def response(self) -> tuple[bytes, bytes]:
        while True:
            while b"\r\n\r\n" not in self.buf:
                assert self._fill(), f"the server closed the connection; got {self.buf[:200]!r}"
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 100 "):
                self.buf = rest
                continue
            length = int(re.search(rb"(?im)^content-length: *(\d+)", head).group(1)) if b"content-length" in head else 0
            while len(rest) < length:
                assert self._fill(), "the server closed the connection within a body"
                rest = self.buf.partition(b"\r\n\r\n")[2]
            self.buf = rest[length:]
            return head, rest[:length]


def normal(head: bytes, body: bytes) -> tuple[bytes, bytes]:
    """A response with what differs between two answers to one request made alike: the date, the ids
    (and so the length of a gzip body, which is compared unzipped)."""
    head = re.sub(rb"(?im)^date: [^\r]*", b"date: -", head)
    if b"content-encoding: gzip" in head:
        head, body = re.sub(rb"content-length: \d+", b"content-length: -", head), gzip.decompress(body)
    uuid = UUID7.pattern.encode()
    return re.sub(uuid, b"ID", head), re.sub(uuid, b"ID", body)


def status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def exchange(srv: Server, *requests: bytes) -> list[tuple[bytes, bytes]]:
    """Send the requests in one write (pipelined) and read their answers."""
    with connect(srv) as s:
        s.sendall(b"".join(requests))
        reader = Reader(s)
        return [reader.response() for _ in requests]


@pytest.fixture(scope="module")
def plain(workdir: Path) -> Server:
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(workdir / "direct.sqlite3"))
    yield srv
    srv.stop()
    assert_clean_log(srv)


def warm(srv: Server, path: str, body: bytes) -> None:
    """Answer once (a memo miss is answered by the ASGI path), so the next is a memo hit."""
    [(head, _)] = exchange(srv, request(path, body))
    assert status(head) == 200


BATCH = json.dumps({"queries": [Q, {**Q, "facts": []}, {**Q, "purpose": "analytics"}] * 10}).encode()


@pytest.mark.parametrize("path, body, headers", [
    ("/v1/decide", json.dumps(Q).encode(), ("X-Request-ID: same-id", f"traceparent: {TRACE}")),
    ("/v1/decide", json.dumps(Q).encode(), ()),
    ("/v1/decide/batch", BATCH, ("X-Request-ID: same-id", "Accept-Encoding: gzip")),
    ("/v1/decide/batch", BATCH, ("X-Request-ID: same-id",)),
])
def test_a_direct_answer_is_the_asgi_answer_byte_for_byte(plain, path, body, headers):
    warm(plain, path, body)
    # Expect: 100-continue is left to the ASGI path (its receive() sends the 100), the same request
    # without it is answered in the protocol
    [direct] = exchange(plain, request(path, body, *headers))
    [asgi] = exchange(plain, request(path, body, *headers, "Expect: 100-continue"))
    if "X-Request-ID: same-id" not in headers:  # made up per request: compare its form
        made = [re.search(rb"x-request-id: ([0-9a-f]{32})\r", h).group(1) for h, _ in (direct, asgi)]
        assert made[0] != made[1]
        direct, asgi = [(h.replace(m, b"RID"), b) for (h, b), m in zip((direct, asgi), made)]
    assert normal(*direct) == normal(*asgi)
    assert status(direct[0]) == 200 and direct[0].count(b"\r\n") >= 5


def test_if_none_match_gets_the_same_304_on_both_paths(plain):
    body = json.dumps(Q).encode()
    warm(plain, "/v1/decide", body)
    [(head, _)] = exchange(plain, request("/v1/decide", body))
    etag = re.search(rb"etag: (.*)\r", head).group(1).decode()
    [direct] = exchange(plain, request("/v1/decide", body, f"If-None-Match: {etag}", "X-Request-ID: r"))
    [asgi] = exchange(plain, request("/v1/decide", body, f"If-None-Match: {etag}", "X-Request-ID: r",
                                     "Expect: 100-continue"))
    assert status(direct[0]) == 304 and direct[1] == b"" and b"content-length" not in direct[0]
    assert normal(*direct) == normal(*asgi)


def test_pipelined_requests_mixing_both_paths_are_answered_in_order(plain, library_policy):
    one = json.dumps(Q).encode()
    warm(plain, "/v1/decide", one)
    warm(plain, "/v1/decide/batch", BATCH)
    unseen = json.dumps({**Q, "purpose": "marketing.newsletter", "facts": ["newsletter_form"]}).encode()
    sent = [
        (request("/v1/decide", one, "X-Request-ID: a"), 200),
        (request("/v1/decide", one, "X-Request-ID: b", chunked=True), 200),  # the ASGI path
        (request("/v1/decide", one, "X-Request-ID: c"), 200),  # behind one in flight: queued
        (request("/v1/decide", b'{"action":', "X-Request-ID: d"), 400),
        (request("/v1/decide/batch", BATCH, "X-Request-ID: e"), 200),
        (request("/v1/decide", unseen, "X-Request-ID: f"), 200),  # a memo miss
        (request("/v1/decide", one, "X-Request-ID: g"), 200),
    ]
    answers = exchange(plain, *(r for r, _ in sent))
    assert [status(h) for h, _ in answers] == [s for _, s in sent]
    assert [re.search(rb"x-request-id: (\w+)", h).group(1) for h, _ in answers] == [b"a", b"b", b"c", b"d", b"e", b"f",
                                                                                     b"g"]
    assert json.loads(answers[3][1])["error"]["code"] == "query.invalid_json"
    assert len(json.loads(answers[4][1])["answers"]) == 30
    for got, question in ((answers[0][1], Q), (answers[5][1], json.loads(unseen))):
        assert without_id(json.loads(got)) == json.loads(json.dumps(library_policy.decide(question).to_dict()))
    ids = [json.loads(b)["decision_id"] for h, b in answers if status(h) == 200 and b"answers" not in b]
    assert len(set(ids)) == len(ids) == 5


@pytest.mark.parametrize("extra, version, closes", [
    ((), "1.0", True),
    (("Connection: close",), "1.1", True),
    (("Connection: keep-alive",), "1.0", True),  # uvicorn closes HTTP/1.0 connections whatever they ask
])
def test_http_1_0_and_connection_close_are_answered_by_the_asgi_path(plain, extra, version, closes):
    body = json.dumps(Q).encode()
    warm(plain, "/v1/decide", body)
    with connect(plain) as s:
        s.sendall(request("/v1/decide", body, *extra, version=version))
        head, payload = Reader(s).response()
        assert status(head) == 200 and json.loads(payload)["decision"] == "deny"
        assert (b"connection: close" in head.lower()) == closes
        if closes:
            assert s.recv(100) == b""


def test_a_body_split_over_several_writes_and_a_chunked_body(plain):
    body = json.dumps(Q).encode()
    warm(plain, "/v1/decide", body)
    raw = request("/v1/decide", body)
    with connect(plain) as s:
        for i in range(0, len(raw), 7):
            s.sendall(raw[i:i + 7])
        head, payload = Reader(s).response()
        assert status(head) == 200 and json.loads(payload)["decision"] == "deny"
        s.sendall(request("/v1/decide", body, chunked=True))
        head, payload = Reader(s).response()
        assert status(head) == 200 and json.loads(payload)["decision"] == "deny"


def test_a_memo_miss_is_answered_then_its_retry_is_direct_and_alike(plain):
    body = json.dumps({**Q, "source": "contact", "facts": ["newsletter_form"], "purpose": "support"}).encode()
    first, second = exchange(plain, request("/v1/decide", body, "X-Request-ID: m"),
                             request("/v1/decide", body, "X-Request-ID: m"))
    [third] = exchange(plain, request("/v1/decide", body, "X-Request-ID: m"))
    assert normal(*first) == normal(*second) == normal(*third)


def test_answers_queued_before_a_request_the_parser_refuses_are_sent_first(plain):
    body = json.dumps(Q).encode()
    warm(plain, "/v1/decide", body)
    with connect(plain) as s:
        s.sendall(request("/v1/decide", body) * 2 + b"NOT HTTP\r\n\r\n")
        reader = Reader(s)
        answers = [reader.response() for _ in range(3)]
        assert [status(h) for h, _ in answers] == [200, 200, 400]
        assert all(json.loads(b)["decision"] == "deny" for _, b in answers[:2])


def test_direct_answers_have_their_log_rows_and_metrics(plain, workdir):
    body = json.dumps({**Q, "purpose": "analytics"}).encode()
    warm(plain, "/v1/decide", body)
    warm(plain, "/v1/decide/batch", BATCH)
    before = plain.metric("policy_engine_decisions_total", endpoint="/v1/decide")
    before_batch = plain.metric("policy_engine_decisions_total", endpoint="/v1/decide/batch")
    requests_before = plain.metric("policy_engine_requests_total", endpoint="/v1/decide", status="200")
    timed_before = plain.metric("policy_engine_request_duration_seconds_count", endpoint="/v1/decide")
    answers = exchange(plain, *[request("/v1/decide", body)] * 20, request("/v1/decide/batch", BATCH))
    ids = [json.loads(b)["decision_id"] for _, b in answers[:20]]
    ids += [a["decision_id"] for a in json.loads(answers[20][1])["answers"]]
    text = httpx.get(plain.url + "/metrics", timeout=5).text
    assert sum_metric(text, "policy_engine_decisions_total", endpoint="/v1/decide") == before + 20
    assert sum_metric(text, "policy_engine_decisions_total", endpoint="/v1/decide/batch") == before_batch + 30
    assert sum_metric(text, "policy_engine_requests_total", endpoint="/v1/decide", status="200") == requests_before + 20
    assert sum_metric(text, "policy_engine_request_duration_seconds_count", endpoint="/v1/decide") == timed_before + 20
    plain.stop()  # flushes the log (the module's last test on this server)
    conn = sqlite3.connect(workdir / "direct.sqlite3")
    try:
        logged = {row[0]: row[1] for row in conn.execute("SELECT decision_id, purpose FROM decision_log")}
    finally:
        conn.close()
    assert all(i in logged for i in ids)
    assert [logged[i] for i in ids[:20]] == ["analytics"] * 20


@pytest.fixture(scope="module")
def guarded(workdir: Path, token_files: dict[str, Path]) -> Server:
    srv = start(workdir, Path("policies/open_e.policy"), "--token-file", str(token_files["decide"]),
                "--decision-log", str(workdir / "audit.sqlite3"), "--decision-log-mode", "audit")
    yield srv
    srv.stop()
    assert_clean_log(srv)


@pytest.mark.parametrize("auth", [(), ("Authorization: Bearer wrong",), ("Authorization: Basic eA==",)])
def test_auth_failures_are_answered_as_by_the_routes(guarded, auth):
    body = json.dumps(Q).encode()
    plain_request, asgi = exchange(guarded, request("/v1/decide", body, *auth, "X-Request-ID: z"),
                                   request("/v1/decide", body, *auth, "X-Request-ID: z", "Expect: 100-continue"))
    assert status(plain_request[0]) == 401
    assert normal(*plain_request) == normal(*asgi)


def test_audit_mode_and_subject_questions(guarded, workdir):
    body = json.dumps(Q).encode()
    token = f"Authorization: Bearer {DECIDE_TOKEN}"
    answers = exchange(guarded, *[request("/v1/decide", body, token)] * 3)
    ids = [json.loads(b)["decision_id"] for h, b in answers if status(h) == 200]
    assert len(ids) == 3
    conn = sqlite3.connect(workdir / "audit.sqlite3")  # audit mode: committed before the answer was sent
    try:
        assert all(conn.execute("SELECT 1 FROM decisions WHERE decision_id = ?", (i,)).fetchone() for i in ids)
    finally:
        conn.close()
    direct, asgi = exchange(guarded, request("/v1/decide", body, token, "X-Request-ID: a"),
                            request("/v1/decide", body, token, "X-Request-ID: a", "Expect: 100-continue"))
    assert status(direct[0]) == 200 and normal(*direct) == normal(*asgi)
    subject = json.dumps({**Q, "subject": "alice"}).encode()
    one, other = exchange(guarded, request("/v1/decide", subject, token, "X-Request-ID: s"),
                          request("/v1/decide", subject, token, "X-Request-ID: s", "Expect: 100-continue"))
    assert status(one[0]) == 422 and json.loads(one[1])["error"]["code"] == "query.no_subject_store"
    assert normal(*one) == normal(*other)



def test_over_tls_a_direct_answer_is_the_asgi_answer(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    srv = Server(tmp_path, Path("policies/open_e.policy"), "--no-decision-log", "--ssl-certfile",
                 str(tmp_path / "cert.pem"), "--ssl-keyfile", str(tmp_path / "key.pem"))
    srv.url = srv.url.replace("http://", "https://")
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready: the TLS port answers
            try:
                with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as raw, \
                        ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                    break
            except OSError:
                assert srv.proc.poll() is None and time.monotonic() < deadline, srv.stderr()
                time.sleep(0.05)
        body = json.dumps(Q).encode()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(request("/v1/decide", body, "X-Request-ID: t"))  # a miss: the ASGI path fills the memo
            reader = Reader(s)
            first = reader.response()
            s.sendall(request("/v1/decide", body, "X-Request-ID: t") * 2  # hits, pipelined
                      + request("/v1/decide", body, "X-Request-ID: t", "Expect: 100-continue"))
            answers = [first] + [reader.response() for _ in range(3)]
        assert len({normal(*a) for a in answers}) == 1 and status(first[0]) == 200
    finally:
        srv.stop()
    assert_clean_log(srv)
