"""gzip for large answers on the real loopback server: negotiated by Accept-Encoding, above a size
threshold only (a single answer is sent as it is, whatever the client accepts), and the same JSON
once decompressed."""

from __future__ import annotations

import gzip
import socket

from policy_engine.server.app import GZIP_MIN_BYTES

from .conftest import assert_clean_log, without_id

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
BATCH = {"queries": [Q, {**Q, "facts": []}, {"action": "share", "data": "email", "recipient": "public"}] * 40}


def _raw(port: int, path: str, body: bytes, accept: str | None) -> tuple[bytes, bytes]:
    """One request over a plain socket, so nothing decompresses behind the test's back: (head, body)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            + (f"Accept-Encoding: {accept}\r\n" if accept else "") + "\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    top, _, rest = data.partition(b"\r\n\r\n")
    return top.lower(), rest


def test_a_large_answer_is_gzipped_when_the_client_accepts_it(server):
    import json

    body = json.dumps(BATCH).encode()
    plain_head, plain = _raw(server.port, "/v1/decide/batch", body, None)
    zipped_head, zipped = _raw(server.port, "/v1/decide/batch", body, "br;q=1.0, gzip;q=0.8")
    assert b"content-encoding" not in plain_head and len(plain) > GZIP_MIN_BYTES
    assert b"content-encoding: gzip" in zipped_head and b"vary: accept-encoding" in zipped_head
    assert f"content-length: {len(zipped)}".encode() in zipped_head
    assert len(zipped) * 5 < len(plain), "repetitive JSON compresses well"
    assert without_id(json.loads(gzip.decompress(zipped))["answers"]) == without_id(json.loads(plain)["answers"])


def test_a_small_answer_is_never_compressed(server):
    import json

    head, body = _raw(server.port, "/v1/decide", json.dumps(Q).encode(), "gzip")
    assert head.startswith(b"http/1.1 200") and b"content-encoding" not in head
    assert len(body) < GZIP_MIN_BYTES and json.loads(body)["decision"]


def test_httpx_gets_the_same_json_either_way(server):
    with server.client() as http:
        zipped = http.post("/v1/decide/batch", json=BATCH)  # httpx sends Accept-Encoding: gzip, deflate
        plain = http.post("/v1/decide/batch", json=BATCH, headers={"Accept-Encoding": "identity"})
        docs = http.get("/openapi.json")
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert without_id(zipped.json()["answers"]) == without_id(plain.json()["answers"])
    assert docs.headers["content-encoding"] == "gzip" and docs.json()["openapi"].startswith("3.")
    assert_clean_log(server)
