"""policy_engine.client against real servers on loopback: `policy-engine serve` (the installed
console script) for the answers, and a tiny scripted HTTP server for the retries (503 twice, then
200; Retry-After; connection refused). Waits are recorded, not slept, so no test depends on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from paths import REPO

import policy_engine
from policy_engine import Decision, QueryError
from policy_engine.client import (APIError, AsyncClient, Client, DataMap, PolicyInfo, Retry, ServedDecision, Terms,
                                  _retry_after_seconds)

SCRIPT = Path(sys.executable).parent / "policy-engine"
QUERY = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
QUERIES = [QUERY, {"action": "share", "data": "email", "recipient": "public"},
           {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`policy-engine serve policies/open_e.policy` on a free loopback port, as tests/server does."""
    workdir = tmp_path_factory.mktemp("client")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    err_path = workdir / "serve.err"
    env = {**os.environ, "XDG_STATE_HOME": str(workdir / "state")}
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([str(SCRIPT), "serve", "policies/open_e.policy", "--host", "127.0.0.1", "--port",
                                 str(port), "--no-decision-log"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=err, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"server not ready:\n{err_path.read_text()}")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert "Traceback" not in err_path.read_text()


@pytest.fixture(scope="module")
def library() -> Any:
    here = os.getcwd()
    os.chdir(REPO)  # reasons name the file as the server (started in the repo root) does
    try:
        return policy_engine.load("policies/open_e.policy")
    finally:
        os.chdir(here)


# ---- the answers --------------------------------------------------------------------------------
def test_sync_client_answers_as_the_library(server: str, library: Any) -> None:
    with Client(server) as pe:
        assert pe.ready()
        assert pe.decide(QUERY).as_decision() == library.decide(QUERY)
        assert [d.as_decision() for d in pe.decide_many(QUERIES)] == [library.decide(q) for q in QUERIES]
        assert pe.decide_many([]) == []
        with pytest.raises(QueryError) as err:
            pe.decide_many([QUERY, {**QUERY, "data": "emial"}])
        assert err.value.code == "query.unknown_term" and err.value.index == 1  # type: ignore[attr-defined]
        assert "email" in err.value.suggestions


def test_typed_policy_terms_and_map(server: str, library: Any) -> None:
    with Client(server) as pe:
        info = pe.policy()
        terms = pe.terms()
        uses = pe.data_map(data="email", source="forum")
        closed = pe.data_map(data="email", facts=[])
        others = pe.data_map(recipient="public", purpose="marketing", no_consent=True)
    assert isinstance(info, PolicyInfo) and isinstance(terms, Terms) and isinstance(uses, DataMap)
    assert (info.name, info.digest, info.rules) == (library.name, library.digest, library.rule_count)
    assert info.terms == dict(library.term_counts) and info["digest"] == library.digest
    newsletter = {t.id: t for t in terms.terms["purpose"]}["marketing.newsletter"]
    assert newsletter.parent == "marketing" and newsletter.ancestors[0] == "marketing"
    assert terms.policy.digest == library.digest
    assert [r.model_dump() for r in uses.uses or []] == [r.to_dict() for r in library.uses("email", "forum")]
    assert [r.model_dump() for r in uses.recipients or []] == [r.to_dict() for r in library.recipients("email", "forum")]
    assert uses.data_for is None and uses.rules_for_purpose is None
    assert [r.model_dump() for r in closed.uses or []] == [r.to_dict() for r in library.uses("email", None, [])]
    assert [r.model_dump() for r in others.data_for or []] == [r.to_dict() for r in library.data_for("public")]
    assert [r.model_dump() for r in others.rules_for_purpose or []] == \
        [r.to_dict() for r in library.rules_for_purpose("marketing")]
    assert [r.model_dump() for r in others.without_consent or []] == \
        [r.to_dict() for r in library.without_consent()]


def test_async_client_has_the_same_methods_and_answers(server: str, library: Any) -> None:
    sync_methods = {m for m in dir(Client) if not m.startswith("_")} - {"close"}
    async_methods = {m for m in dir(AsyncClient) if not m.startswith("_")} - {"aclose"}
    assert sync_methods == async_methods

    async def ask() -> tuple[Any, ...]:
        async with AsyncClient(server) as pe:
            together = await asyncio.gather(*(pe.decide(q) for q in QUERIES))
            return (await pe.ready(), together, await pe.decide_many(QUERIES), await pe.policy(),
                    await pe.terms(), await pe.data_map(data="email", source="forum"))

    ready, together, many, info, terms, uses = asyncio.run(ask())
    with Client(server) as pe:
        assert ready is True
        assert [d.as_decision() for d in together] == [d.as_decision() for d in many] == \
            [library.decide(q) for q in QUERIES]
        assert info == pe.policy() and terms == pe.terms() and uses == pe.data_map(data="email", source="forum")


def test_refusals_are_typed(server: str) -> None:
    with Client(server) as pe:
        with pytest.raises(QueryError) as err:
            pe.data_map(data="emial")
        assert err.value.field == "data" and "email" in err.value.suggestions
        with pytest.raises(APIError) as api:
            pe.reload()  # no admin token
        assert api.value.status in (401, 403)


# ---- retries, against a scripted server -----------------------------------------------------------
ANSWER = ServedDecision.model_validate({"decision": "allow", "reasons": [], "policy": {"name": "P", "digest": "sha256:0"},
                                        "decision_id": "019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b8f3"})


class Scripted:
    """A loopback HTTP server answering from a script: each entry (status, headers) answers one
    request, the last one repeats; a 200 carries ANSWER."""

    def __init__(self, script: list[tuple[int, dict[str, str]]], port: int = 0):
        self.script, self.requests = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.requests.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status, headers = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                body = (ANSWER.model_dump_json() if status == 200 else
                        json.dumps({"error": {"code": "overloaded", "message": "busy"}})).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the clients ask for, recorded instead of slept."""
    asked: list[float] = []

    async def no_async_sleep(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr("policy_engine.client.time.sleep", asked.append)
    monkeypatch.setattr("policy_engine.client.asyncio.sleep", no_async_sleep)
    return asked


def test_503_twice_then_200_is_retried_honouring_retry_after(waits: list[float]) -> None:
    srv = Scripted([(503, {"Retry-After": "2"}), (503, {}), (200, {})])
    try:
        with Client(srv.url, retry=Retry(attempts=5, backoff=0.5, max_backoff=4)) as pe:
            assert pe.decide(QUERY) == ANSWER
    finally:
        srv.stop()
    assert len(srv.requests) == 3 and all(json.loads(r) == QUERY for r in srv.requests)
    assert waits[0] == 2.0  # the server's Retry-After
    assert len(waits) == 2 and 0 <= waits[1] <= 1.0  # jittered: uniform in [0, backoff * 2**1]


def test_async_client_retries_the_same_way(waits: list[float]) -> None:
    srv = Scripted([(503, {"Retry-After": "1"}), (503, {"Retry-After": "1"}), (200, {})])

    async def ask() -> Decision:
        async with AsyncClient(srv.url, retry=Retry(attempts=3)) as pe:
            return await pe.decide(QUERY)

    try:
        assert asyncio.run(ask()) == ANSWER
    finally:
        srv.stop()
    assert len(srv.requests) == 3 and waits == [1.0, 1.0]


def test_retries_are_bounded_in_count(waits: list[float]) -> None:
    srv = Scripted([(503, {})])
    try:
        with Client(srv.url, retry=Retry(attempts=4, backoff=0.01)) as pe, pytest.raises(APIError) as err:
            pe.decide(QUERY)
    finally:
        srv.stop()
    assert err.value.status == 503 and err.value.code == "overloaded"
    assert len(srv.requests) == 4 and len(waits) == 3
    assert all(0 <= w <= 0.01 * 2 ** i for i, w in enumerate(waits))


def test_retries_are_bounded_in_time(waits: list[float]) -> None:
    srv = Scripted([(503, {"Retry-After": "120"}), (200, {})])
    try:
        with Client(srv.url, retry=Retry(attempts=10, total=30, max_retry_after=300)) as pe, \
                pytest.raises(APIError):
            pe.decide(QUERY)  # waiting 120 s would pass the 30 s budget: not begun
    finally:
        srv.stop()
    assert len(srv.requests) == 1 and waits == []


def test_other_refusals_are_not_retried(waits: list[float]) -> None:
    srv = Scripted([(500, {}), (200, {})])
    try:
        with Client(srv.url) as pe, pytest.raises(APIError) as err:
            pe.decide(QUERY)
    finally:
        srv.stop()
    assert err.value.status == 500 and len(srv.requests) == 1 and waits == []


def test_a_refused_connection_is_retried_until_the_server_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()  # nothing listens there yet; the first wait starts the server
    started: list[Scripted] = []

    def start_during_wait(seconds: float) -> None:
        if not started:
            started.append(Scripted([(200, {})], port=port))

    monkeypatch.setattr("policy_engine.client.time.sleep", start_during_wait)
    try:
        with Client(f"http://127.0.0.1:{port}", retry=Retry(attempts=3)) as pe:
            assert pe.decide(QUERY) == ANSWER
        assert len(started[0].requests) == 1
    finally:
        for srv in started:
            srv.stop()


def test_a_refused_connection_is_raised_after_the_last_attempt(waits: list[float]) -> None:
    with Client(f"http://127.0.0.1:{_free_port()}", retry=Retry(attempts=3, backoff=0.01)) as pe, \
            pytest.raises(httpx.ConnectError):
        pe.decide(QUERY)
    assert len(waits) == 2
    with Client(f"http://127.0.0.1:{_free_port()}", retry=Retry(attempts=1)) as pe:
        assert pe.ready() is False


def test_retry_after_forms() -> None:
    now = time.time()
    assert _retry_after_seconds("7", now) == 7.0
    assert 9 <= (_retry_after_seconds(formatdate(now + 10, usegmt=True), now) or 0) <= 10
    assert _retry_after_seconds(formatdate(now - 60, usegmt=True), now) == 0.0
    assert _retry_after_seconds("soon", now) is None and _retry_after_seconds(None, now) is None
    with pytest.raises(ValueError):
        Retry(attempts=0)
