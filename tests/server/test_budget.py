"""Bounded work per request (issue 15 item 2): a slow decision runs off the event loop, so
/healthz and other questions are answered while it runs; past `--request-timeout` its request
gets 503 with Retry-After and the error shape, and the finished answer serves the retry.

The slowness is made by a test-only `sitecustomize` (on the server's PYTHONPATH) that wraps
`Policy.decide`: one chosen question spins on the CPU until the test opens a gate file (60 s at
most). It does not depend on how fast the engine is; slow_symbolic.policy (the reproducer) is
tried as well, and passes whether or not the engine has been made fast.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import assert_clean_log, start

pytestmark = pytest.mark.slow  # starts server processes

SLOW = {"action": "retain", "data": "email", "purpose": "accounting", "facts": ["legal_requirement"]}
FAST = {"action": "collect", "data": "cookie.analytics", "source": "website"}
HOOK = '''
import os, time
from pathlib import Path
from policy_engine.engine.policy import Policy

_decide = Policy.decide
_gate, _entered = Path(os.environ["TEST_SLOW_GATE"]), Path(os.environ["TEST_SLOW_ENTERED"])

def decide(self, query):
    if isinstance(query, dict) and query.get("facts") == ["legal_requirement"] and query.get("action") == "retain":
        _entered.touch()
        end = time.monotonic() + 60
        while not _gate.exists() and time.monotonic() < end:
            sum(range(20000))  # CPU work holding the GIL, as a slow partial evaluation does
    return _decide(self, query)

Policy.decide = decide
'''


def slow_server(tmp: Path, *args: str) -> tuple[Any, Path, Path]:
    hook = tmp / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    gate, entered = tmp / "gate", tmp / "entered"
    srv = start(tmp, Path("policies/open_e.policy"), "--no-decision-log", *args,
                env={"PYTHONPATH": str(hook), "TEST_SLOW_GATE": str(gate), "TEST_SLOW_ENTERED": str(entered)})
    return srv, gate, entered


def wait_for(path: Path, limit: int = 600) -> None:
    for _ in range(limit):  # bounded: 600 x 0.05 s
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never appeared")


def test_a_slow_decision_does_not_hold_up_other_requests(tmp_path):
    srv, gate, entered = slow_server(tmp_path, "--request-timeout", "120")
    result: dict[str, httpx.Response] = {}

    def ask() -> None:
        with srv.client(timeout=120) as http:
            result["slow"] = http.post("/v1/decide", json=SLOW)

    asker = threading.Thread(target=ask)
    try:
        asker.start()
        wait_for(entered)
        with srv.client() as http:
            for _ in range(20):
                assert http.get("/healthz").json() == {"status": "ok"}
                answer = http.post("/v1/decide", json=FAST)
                assert answer.status_code == 200 and answer.json()["decision"] in ("allow", "deny", "conditional")
            assert http.get("/readyz").status_code == 200
        assert "slow" not in result and not gate.exists(), "all of that was answered while the slow one ran"
    finally:
        gate.touch()
        asker.join(120)
    assert result["slow"].status_code == 200
    assert result["slow"].json()["decision"] in ("allow", "deny", "conditional")
    srv.stop()
    assert_clean_log(srv)


def test_past_the_budget_the_answer_is_503_with_retry_after(tmp_path):
    srv, gate, entered = slow_server(tmp_path, "--request-timeout", "0.5")
    try:
        with srv.client(timeout=60) as http:
            answer = http.post("/v1/decide", json=SLOW)
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            error = answer.json()["error"]
            assert error["code"] == "request.timeout" and error["budget_s"] == 0.5
            assert "budget of 0.5 s" in error["message"]
            assert entered.exists() and not gate.exists(), "the decision is still running"
            assert http.get("/healthz").status_code == 200
            batch = http.post("/v1/decide/batch", json={"queries": [FAST, SLOW]})
            assert batch.status_code == 503 and batch.json()["error"]["code"] == "request.timeout"
            gate.touch()
            for _ in range(200):  # bounded: the retry gets the answer the pool finished meanwhile
                answer = http.post("/v1/decide", json=SLOW)
                if answer.status_code == 200:
                    break
                assert answer.status_code == 503
                time.sleep(0.05)
            assert answer.status_code == 200 and answer.json()["decision"] in ("allow", "deny", "conditional")
            errors = srv.metric("policy_engine_query_errors_total", endpoint="/v1/decide", code="request.timeout")
            assert errors >= 1
    finally:
        gate.touch()
        srv.stop()
    assert_clean_log(srv)


def test_the_slow_symbolic_reproducer_never_blocks_healthz(tmp_path):
    policy = tmp_path / "slow_symbolic.policy"
    shutil.copyfile(Path(__file__).parent / "data" / "slow_symbolic.policy", policy)
    srv = start(tmp_path, policy, "--no-decision-log", "--request-timeout", "1")
    result: dict[str, httpx.Response] = {}

    def ask() -> None:
        with srv.client(timeout=120) as http:
            result["slow"] = http.post("/v1/decide", json={"action": "collect", "data": "loc",
                                                           "source": "phone0.stat"})

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        with srv.client() as http:
            for _ in range(10):
                assert http.get("/healthz").status_code == 200
    finally:
        asker.join(120)
    answer = result["slow"]
    if answer.status_code == 503:  # the engine is still slow on it: the budget answered
        assert answer.headers["retry-after"] == "1" and answer.json()["error"]["code"] == "request.timeout"
    else:
        assert answer.status_code == 200 and answer.json()["decision"] in ("allow", "deny", "conditional")
    assert_clean_log(srv)
    srv.kill()  # a decision still running in its thread would hold a graceful exit until it ends
