"""The service contract of issue 13 item 2, against the real server: X-Request-ID echoed (or made
up), traceparent echoed when valid, ETag with If-None-Match -> 304 and Cache-Control, and an
OpenAPI document that declares its security scheme and names every operation."""

from __future__ import annotations

import re

from .conftest import UUID7, assert_clean_log, without_id

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_request_id_is_echoed_or_made_up(server):
    with server.client() as http:
        r = http.post("/v1/decide", json=Q, headers={"X-Request-ID": "req-42/abc"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "req-42/abc"
        made = http.get("/healthz").headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
        assert http.get("/healthz").headers["x-request-id"] != made
        unusable = http.get("/healthz", headers={"X-Request-ID": "x" * 200}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", unusable)
        error = http.post("/v1/decide", json={**Q, "data": "emial"}, headers={"X-Request-ID": "bad-one"})
        assert error.status_code == 422 and error.headers["x-request-id"] == "bad-one"


def test_traceparent_is_accepted_and_echoed_when_valid(server):
    with server.client() as http:
        r = http.post("/v1/decide", json=Q, headers={"traceparent": TRACE})
        assert r.status_code == 200 and r.headers["traceparent"] == TRACE
        bad = http.post("/v1/decide", json=Q, headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
        assert bad.status_code == 200 and "traceparent" not in bad.headers


def test_etag_and_if_none_match(server):
    with server.client() as http:
        first = http.post("/v1/decide", json=Q)
        etag = first.headers["etag"]
        assert re.fullmatch(r'W/"[0-9a-f]{32}"', etag) and first.headers["cache-control"] == "no-cache"
        assert http.post("/v1/decide", json=Q).headers["etag"] == etag, "same policy, same query: same tag"
        other = http.post("/v1/decide", json={**Q, "facts": ["newsletter_form"]})
        if without_id(other.json()) != without_id(first.json()):
            assert other.headers["etag"] != etag
        again = http.post("/v1/decide", json=Q, headers={"If-None-Match": f'"nope", {etag}'})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert UUID7.fullmatch(again.headers["decision-id"]), "a 304 still names the decision it logged"
        strong = http.post("/v1/decide", json=Q, headers={"If-None-Match": etag[2:]})
        assert strong.status_code == 304, "If-None-Match compares weakly"
        stale = http.post("/v1/decide", json=Q, headers={"If-None-Match": '"0123"'})
        assert stale.status_code == 200 and without_id(stale.json()) == without_id(first.json())


def test_openapi_declares_security_and_operation_ids(server):
    with server.client() as http:
        doc = http.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    ids = {path: {m: op.get("operationId") for m, op in ops.items()} for path, ops in doc["paths"].items()}
    assert ids["/v1/decide"]["post"] == "decide" and ids["/v1/decide/batch"]["post"] == "decide_batch"
    assert ids["/v1/admin/reload"]["post"] == "reload" and ids["/healthz"]["get"] == "healthz"
    assert all(op for ops in ids.values() for op in ops.values()), ids
    assert doc["paths"]["/v1/admin/reload"]["post"]["security"] == [{"bearerAuth": []}]
    assert {"bearerAuth": []} in doc["paths"]["/v1/decide"]["post"]["security"]
    assert "security" not in doc["paths"]["/healthz"]["get"]
    assert_clean_log(server)
