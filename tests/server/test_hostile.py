"""Bad and hostile requests: each gets a 4xx with the JSON error shape naming the problem (and the
field, where there is one); none gets a 5xx, leaves a traceback in the log, or stops the server."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from .conftest import assert_clean_log

pytestmark = pytest.mark.slow  # starts server processes

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
MIB = 1 << 20


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


# (name, method, path, body bytes or None, status, code, field)
CASES: list[tuple[str, str, str, bytes | None, int, str, str | None]] = [
    ("empty body", "POST", "/v1/decide", b"", 400, "query.invalid_json", None),
    ("truncated JSON", "POST", "/v1/decide", b'{"action": "use", "data": ', 400, "query.invalid_json", None),
    ("trailing garbage", "POST", "/v1/decide", b'{"action": "use"} x', 400, "query.invalid_json", None),
    ("NaN", "POST", "/v1/decide", b'{"action": "use", "data": NaN}', 400, "query.invalid_json", None),
    ("not UTF-8", "POST", "/v1/decide", b'{"action": "use", "data": "\xff\xfe"}', 400, "query.invalid_json", None),
    ("a 5000-digit number", "POST", "/v1/decide", b'{"action": ' + b"9" * 5000 + b"}", 400, "query.invalid_json",
     None),
    ("a JSON array", "POST", "/v1/decide", _json([Q]), 422, "query.wrong_type", None),
    ("a JSON string", "POST", "/v1/decide", _json("use email"), 422, "query.wrong_type", None),
    ("null", "POST", "/v1/decide", b"null", 422, "query.wrong_type", None),
    ("missing action", "POST", "/v1/decide", _json({"data": "email", "purpose": "marketing"}), 422,
     "query.missing_field", "action"),
    ("missing data", "POST", "/v1/decide", _json({"action": "use", "purpose": "marketing"}), 422,
     "query.missing_field", "data"),
    ("data a number", "POST", "/v1/decide", _json({**Q, "data": 5}), 422, "query.wrong_type", "data"),
    ("data an object", "POST", "/v1/decide", _json({**Q, "data": {"id": "email"}}), 422, "query.wrong_type", "data"),
    ("facts a string", "POST", "/v1/decide", _json({**Q, "facts": "newsletter_form"}), 422, "query.wrong_type",
     "facts"),
    ("facts of numbers", "POST", "/v1/decide", _json({**Q, "facts": [1, 2]}), 422, "query.wrong_type", "facts"),
    ("facts of lists", "POST", "/v1/decide", _json({**Q, "facts": [["a"]]}), 422, "query.wrong_type", "facts"),
    ("unknown action", "POST", "/v1/decide", _json({**Q, "action": "sell"}), 422, "query.unknown_action", "action"),
    ("missing dimension", "POST", "/v1/decide", _json({"action": "share", "data": "email"}), 422,
     "query.missing_dimension", "recipient"),
    ("unknown field", "POST", "/v1/decide", _json({**Q, "purpse": "marketing"}), 422, "query.unknown_field",
     "purpse"),
    ("unknown term", "POST", "/v1/decide", _json({**Q, "data": "emial"}), 422, "query.unknown_term", "data"),
    ("unknown fact", "POST", "/v1/decide", _json({**Q, "facts": ["newsleter_form"]}), 422, "query.unknown_term",
     "facts"),
    ("a term of the wrong kind", "POST", "/v1/decide", _json({**Q, "data": "marketing"}), 422, "query.unknown_term",
     "data"),
    ("a NUL in a term", "POST", "/v1/decide", _json({**Q, "data": "email\u0000"}), 422, "query.unknown_term", "data"),
    ("a 600 KB term", "POST", "/v1/decide", _json({**Q, "data": "e" * 600_000}), 422, "query.unknown_term", "data"),
    ("a body over 1 MiB", "POST", "/v1/decide", _json({**Q, "pad": "x" * MIB}), 413, "request.too_large", None),
    ("100,000 open brackets", "POST", "/v1/decide", b"[" * 100_000, 400, "request.too_deep", None),
    ("nesting inside facts", "POST", "/v1/decide", _json({**Q, "facts": json.loads("[" * 40 + "]" * 40)}), 400,
     "request.too_deep", None),
    ("objects nested 500 deep", "POST", "/v1/decide/batch", b'{"a":' * 500 + b"1" + b"}" * 500, 400,
     "request.too_deep", None),
    ("batch not an object", "POST", "/v1/decide/batch", _json([Q]), 422, "query.wrong_type", "queries"),
    ("batch without queries", "POST", "/v1/decide/batch", _json({"query": [Q]}), 422, "query.unknown_field", "query"),
    ("batch with queries a dict", "POST", "/v1/decide/batch", _json({"queries": Q}), 422, "query.wrong_type",
     "queries"),
    ("batch over the count", "POST", "/v1/decide/batch", _json({"queries": [Q] * 1001}), 413,
     "request.batch_too_large", "queries"),
    ("batch over 1 MiB", "POST", "/v1/decide/batch", _json({"queries": [Q] * 20_000}), 413, "request.too_large",
     None),
    ("GET on a POST endpoint", "GET", "/v1/decide", None, 405, "request.method_not_allowed", None),
    ("no such endpoint", "GET", "/v1/../../etc/passwd", None, 404, "request.not_found", None),
    ("map without a question", "GET", "/v1/map", None, 400, "request.missing_parameter", "data"),
    ("map with a bad flag", "GET", "/v1/map?no_consent=perhaps", None, 422, "request.invalid_parameter",
     "no_consent"),
    ("map source without data", "GET", "/v1/map?source=forum", None, 422, "query.missing_field", "data"),
    ("map unknown recipient", "GET", "/v1/map?recipient=pubic", None, 422, "query.unknown_term", "recipient"),
    ("map unknown fact", "GET", "/v1/map?data=email&facts=consent", None, 422, "query.unknown_term", "facts"),
    ("reload without a token", "POST", "/v1/admin/reload", b"", 401, "auth.missing_token", None),
]


@pytest.mark.parametrize("name, method, path, body, status, code, field", CASES, ids=[c[0] for c in CASES])
def test_bad_request(server, name, method, path, body, status, code, field):
    with server.client() as http:
        r = http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text[:500]
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == field
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["suggestions"], list)


def test_unknown_terms_come_with_the_nearest_known_ones(server):
    with server.client() as http:
        for field, value, near in (("data", "emial", "email"), ("purpose", "marketting", "marketing"),
                                   ("source", "forumm", "forum"), ("facts", ["newsleter_form"], "newsletter_form")):
            r = http.post("/v1/decide", json={**Q, field: value})
            assert r.status_code == 422
            err = r.json()["error"]
            assert err["field"] == field and near in err["suggestions"], err
            assert (value if isinstance(value, str) else value[0]) in err["message"]


def test_a_body_over_the_limit_without_content_length_is_refused(server):
    def chunks():  # chunked transfer: the server cannot know the size in advance
        for _ in range(20):
            yield b" " * 65536
        yield _json(Q)

    with server.client() as http:
        r = http.post("/v1/decide", content=chunks())
    assert r.status_code == 413 and r.json()["error"]["code"] == "request.too_large"


def test_a_lying_content_length_is_refused_before_reading(server):
    raw = (b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 999999999\r\n\r\n{}")
    assert _raw(server, raw).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n{}",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello on the plain port
], ids=["not HTTP", "bad content-length", "200 KB header", "HTTP/9.9", "TLS hello"])
def test_malformed_http_is_refused_and_the_server_stays_up(server, raw):
    reply = _raw(server, raw)
    assert reply == b"" or reply[:10] in (b"HTTP/1.1 4", b"HTTP/1.1 2"), reply[:200]  # h11 reads HTTP/9.9 as 1.1
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_a_client_that_disconnects_mid_body_does_no_harm(server):
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"action\":")
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_tokens_on_open_endpoints_are_ignored_and_text_plain_json_is_accepted(server):
    with server.client(token="anything") as http:
        r = http.post("/v1/decide", content=_json(Q), headers={"content-type": "text/plain"})
    assert r.status_code == 200 and r.json()["decision"] == "deny"


def test_after_all_that_no_5xx_and_no_traceback(server):
    text = httpx.get(server.url + "/metrics").text
    statuses = [line for line in text.splitlines() if line.startswith("policy_engine_requests_total")]
    assert statuses and not [line for line in statuses if 'status="5' in line], statuses
    assert_clean_log(server)


def _raw(server, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server may close first
            pass
        data = b""
        try:
            while len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    return data
