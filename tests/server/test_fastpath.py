"""The decision endpoints' two front doors give the same answers: the plain-ASGI fast path (a body
with Content-Length) and the FastAPI routes (a chunked body, which the fast path leaves to them).
Same status, body (but the decision id), headers and error shapes, on the real loopback server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .conftest import UUID7, assert_clean_log, sum_metric, without_id

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
_SAME = ("content-type", "content-encoding", "vary", "etag", "cache-control", "x-request-id", "traceparent",
         "retry-after", "www-authenticate")


def _chunked(data: bytes) -> Iterator[bytes]:
    yield data[: len(data) // 2]
    yield data[len(data) // 2:]


def _both(http, path: str, body: bytes, **headers: str):
    """(fast path answer, framework answer) to the same request."""
    fast = http.post(path, content=body, headers={"Content-Type": "application/json", **headers})
    slow = http.post(path, content=_chunked(body), headers={"Content-Type": "application/json", **headers})
    assert "content-length" not in slow.request.headers and slow.request.headers["transfer-encoding"] == "chunked"
    return fast, slow


@pytest.mark.parametrize("path, body, headers", [
    ("/v1/decide", json.dumps(Q), {"X-Request-ID": "same-id", "traceparent": TRACE}),
    ("/v1/decide", json.dumps({**Q, "facts": ["newsletter_form"]}), {"X-Request-ID": "same-id"}),
    ("/v1/decide", json.dumps({**Q, "data": "emial"}), {"X-Request-ID": "same-id"}),
    ("/v1/decide", '{"action": "use",', {"X-Request-ID": "same-id"}),
    ("/v1/decide", "[" * 5000, {"X-Request-ID": "same-id"}),
    ("/v1/decide/batch", json.dumps({"queries": [Q, "x", {**Q, "facts": []}] * 30}),
     {"X-Request-ID": "same-id", "Accept-Encoding": "gzip"}),
    ("/v1/decide/batch", json.dumps({"queries": [Q], "extra": 1}), {"X-Request-ID": "same-id"}),
    ("/v1/decide/batch", json.dumps({"queries": [Q] * 5000}), {"X-Request-ID": "same-id"}),
])
def test_the_fast_path_and_the_routes_answer_alike(server, path, body, headers):
    with server.client() as http:
        fast, slow = _both(http, path, body.encode(), **headers)
    assert fast.status_code == slow.status_code, (fast.text[:300], slow.text[:300])
    for name in _SAME:
        assert fast.headers.get(name) == slow.headers.get(name), name
    if fast.status_code == 200:
        got, want = fast.json(), slow.json()
        if "answers" in got:
            got, want = got["answers"], want["answers"]
        assert without_id(got) == without_id(want)
        assert fast.headers["content-type"] == "application/json"
    else:
        assert fast.json() == slow.json() and set(fast.json()["error"]) >= {"code", "message", "field", "suggestions"}
    if path == "/v1/decide" and fast.status_code == 200:
        assert UUID7.fullmatch(fast.headers["decision-id"]) and fast.headers["decision-id"] == fast.json()["decision_id"]
        assert slow.headers["decision-id"] == slow.json()["decision_id"] != fast.json()["decision_id"]


def test_if_none_match_and_the_body_limit_on_the_fast_path(server):
    with server.client() as http:
        etag = http.post("/v1/decide", json=Q).headers["etag"]
        fast, slow = _both(http, "/v1/decide", json.dumps(Q).encode(), **{"If-None-Match": etag})
        assert fast.status_code == slow.status_code == 304 and fast.content == slow.content == b""
        assert "content-type" not in fast.headers and fast.headers["etag"] == etag
        huge = http.post("/v1/decide", content=b" " * (2 << 20), headers={"Content-Type": "application/json"})
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "request.too_large"


def test_the_fast_path_counts_requests_as_the_routes_do(server):
    before = server.metric("policy_engine_requests_total", endpoint="/v1/decide", status="200")
    decided = server.metric("policy_engine_decisions_total", endpoint="/v1/decide")
    with server.client() as http:
        for _ in range(3):
            assert http.post("/v1/decide", json=Q).status_code == 200
    assert server.metric("policy_engine_requests_total", endpoint="/v1/decide", status="200") == before + 3
    assert server.metric("policy_engine_decisions_total", endpoint="/v1/decide") == decided + 3
    assert sum_metric(server.client().get("/metrics").text, "policy_engine_request_duration_seconds_count",
                      endpoint="/v1/decide") >= 3
    assert_clean_log(server)
