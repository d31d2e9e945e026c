"""Access: optional bearer tokens for the decision endpoints, admin endpoints that always need a
token, and no endpoint that takes a filesystem path from the request."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from policy_engine.client import APIError, Client

from .conftest import ADMIN_TOKEN, DECIDE_TOKEN, Server, assert_clean_log, start

pytestmark = pytest.mark.slow  # starts server processes

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
PROTECTED = [("POST", "/v1/decide", Q), ("POST", "/v1/decide/batch", {"queries": [Q]}), ("GET", "/v1/policy", None),
             ("GET", "/v1/terms", None), ("GET", "/v1/map?data=email", None)]


@pytest.fixture(scope="module")
def locked(workdir: Path, token_files: dict[str, Path]) -> Iterator[Server]:
    srv = start(workdir, Path("policies/open_e.policy"), "--token-file", str(token_files["decide"]),
                "--admin-token-file", str(token_files["admin"]), "--no-decision-log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def open_server(workdir: Path) -> Iterator[Server]:
    srv = start(workdir, Path("policies/open_e.policy"), "--no-decision-log")
    yield srv
    srv.stop()


def _call(http: httpx.Client, method: str, path: str, body: object) -> httpx.Response:
    return http.request(method, path, json=body) if body is not None else http.request(method, path)


@pytest.mark.parametrize("method, path, body", PROTECTED, ids=[p[1] for p in PROTECTED])
def test_decision_endpoints_need_a_token_when_a_token_file_is_given(locked, method, path, body):
    with locked.client() as http:
        r = _call(http, method, path, body)
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.missing_token"
        assert r.headers["www-authenticate"].startswith("Bearer")
    for bad, status, code in (("Bearer nope", 401, "auth.invalid_token"), ("Basic " + DECIDE_TOKEN, 401,
                                                                           "auth.malformed"),
                              ("Bearer " + DECIDE_TOKEN + "x", 401, "auth.invalid_token")):
        with locked.client(headers={"Authorization": bad}) as http:
            r = _call(http, method, path, body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), bad
            if code == "auth.invalid_token":  # RFC 6750 section 3.1
                assert r.headers["www-authenticate"] == 'Bearer realm="policy-engine", error="invalid_token"'
    with locked.client(token=DECIDE_TOKEN) as http:
        assert _call(http, method, path, body).status_code == 200


def test_operations_endpoints_stay_open(locked):
    with locked.client() as http:
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
            assert http.get(path).status_code == 200, path


def test_admin_needs_an_admin_token(locked):
    with locked.client() as http:
        assert http.post("/v1/admin/reload").status_code == 401
    with locked.client(token=DECIDE_TOKEN) as http:  # a decision token is not an admin token
        r = http.post("/v1/admin/reload")
        assert r.status_code == 403 and r.json()["error"]["code"] == "auth.insufficient_scope"
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    with locked.client(token="not-a-token-at-all") as http:
        r = http.post("/v1/admin/reload")
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.invalid_token"
    with locked.client(token=ADMIN_TOKEN) as http:
        r = http.post("/v1/admin/reload")
        assert r.status_code == 200 and r.json()["result"] == "unchanged"


def test_reload_takes_no_path_from_the_request(locked):
    with locked.client(token=ADMIN_TOKEN) as http:
        for body in ({"path": "/etc/passwd"}, {"policy": "../../etc/shadow"}, "x"):
            r = http.post("/v1/admin/reload", json=body)
            assert r.status_code == 400 and r.json()["error"]["code"] == "request.unexpected_body"
        r = http.post("/v1/admin/reload", params={"path": "/etc/passwd"})
        assert r.status_code == 200 and r.json()["policy"]["digest"] == http.get("/v1/policy").json()["digest"]
        assert http.get("/v1/policy").json()["file"] == "policies/open_e.policy"


def test_without_any_token_file_admin_is_refused_and_decisions_are_open(open_server):
    with open_server.client() as http:
        assert http.post("/v1/decide", json=Q).status_code == 200
        r = http.post("/v1/admin/reload")
        assert r.status_code == 403 and r.json()["error"]["code"] == "auth.disabled"
    with open_server.client(token="guess") as http:
        assert http.post("/v1/admin/reload").status_code == 403


def test_the_client_sends_its_token(locked):
    with Client(locked.url, token=DECIDE_TOKEN) as client:
        assert client.decide(Q).decision == "deny"
    with Client(locked.url) as client, pytest.raises(APIError) as err:
        client.decide(Q)
    assert err.value.status == 401 and err.value.code == "auth.missing_token"
    with Client(locked.url, token=ADMIN_TOKEN) as admin:
        assert admin.reload()["result"] == "unchanged"
    assert_clean_log(locked)


def test_a_non_ascii_token_works_against_the_real_server(workdir):
    tokens = workdir / "unicode.tokens"
    tokens.write_text("tökén-ü-🎉\n", encoding="utf-8")
    srv = start(workdir, Path("policies/open_e.policy"), "--token-file", str(tokens), "--no-decision-log")
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            good = http.post("/v1/decide", json=Q, headers={"Authorization": "Bearer tökén-ü-🎉".encode("utf-8")})
            assert good.status_code == 200, good.text
            bad = http.post("/v1/decide", json=Q, headers={"Authorization": "Bearer tökén-ü".encode("utf-8")})
            assert bad.status_code == 401
    finally:
        srv.stop()
    assert_clean_log(srv)


def test_the_policy_view_never_shows_an_absolute_path(workdir, open_server):
    """Regression (issue 15 item 7): /v1/policy showed the absolute path of the policy file."""
    assert httpx.get(open_server.url + "/v1/policy", timeout=10).json()["file"] == "policies/open_e.policy"
    outside = workdir / "elsewhere" / "served.policy"  # the tests' folder lies outside the server's
    outside.parent.mkdir(exist_ok=True)
    outside.write_bytes((Path(__file__).resolve().parents[2] / "policies" / "open_e.policy").read_bytes())
    srv = start(workdir, outside.resolve(), "--no-decision-log")
    try:
        shown = httpx.get(srv.url + "/v1/policy", timeout=10).json()["file"]
    finally:
        srv.stop()
    assert shown == "served.policy"
