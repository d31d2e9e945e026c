"""The Python client's subject methods, blocking and asyncio, against the installed `policy-engine
serve` on loopback with a real store (SQLite file and PostgreSQL): events with an idempotency key,
the subject view, subject decisions, requests with the plan and the rights' limits, the sweep,
forget. Typed answers (client_models)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from policy_engine.client import APIError, AsyncClient, Client
from policy_engine.client_models import RequestAnswer, SubjectDecision, SubjectEvent, SubjectView
from tests.server.conftest import Server
from tests.subjects.conftest import _fresh_pg

RIGHTS = Path(__file__).with_name("rights.policy")
WRITE = "client-writer-1"
KEEP = {"action": "retain", "data": "ip_address", "source": "website", "purpose": "security"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("subjects-client")
    url = str(workdir / "subjects.sqlite3") if request.param == "sqlite" else \
        _fresh_pg(request.getfixturevalue("pg_url"))
    tokens = workdir / "tokens"
    tokens.write_text(f"{WRITE} subjects:read subjects:write\n")
    srv = Server(workdir, RIGHTS, env={"POLICY_ENGINE_SUBJECT_STORE": url,
                                       "POLICY_ENGINE_SUBJECT_TOKENS": str(tokens)}).wait_ready()
    yield srv
    srv.stop()


def test_the_blocking_client_end_to_end(server):
    with Client(server.url, token=WRITE) as pe:
        first = pe.record_event("c 1:a", {"kind": "begin", "fact": "fraud_suspected", "at": "2026-01-01T00:00:00Z",
                                        "evidence": "report 12"}, idempotency_key="c1-a")
        again = pe.record_event("c 1:a", {"kind": "begin", "fact": "fraud_suspected", "at": "2026-01-01T00:00:00Z",
                                        "evidence": "report 12"}, idempotency_key="c1-a")
        assert isinstance(first, SubjectEvent) and first.replayed is False
        assert again.replayed is True and again.id == first.id
        for fact in ("resident_us", "active_account"):
            pe.record_event("c 1:a", {"kind": "begin", "fact": fact, "at": "2026-01-01T00:00:00Z"})
        pe.record_event("c 1:a", {"kind": "collected", "category": "ip_address", "source": "website",
                                "at": "2026-01-01T00:00:00Z"})
        view = pe.subject("c 1:a")  # an id with a space and a colon travels quoted
        assert isinstance(view, SubjectView) and view.known and len(view.events) == 4
        assert [f.fact for f in view.facts_now] == ["active_account", "fraud_suspected", "resident_us"]
        answer = pe.decide_subject({**KEEP, "subject": "c 1:a", "at": "2026-02-01T00:00:00Z"})
        assert isinstance(answer, SubjectDecision) and answer.decision == "allow"
        assert [e.event for e in answer.evidence if e.fact == "fraud_suspected"] == [first.id]
        assert pe.decide_subject({**KEEP, "subject": "nobody"}).subject.known is False
        erasure = pe.subject_request("c 1:a", {"kind": "erasure", "received_at": "2026-02-01T00:00:00Z"})
        assert isinstance(erasure, RequestAnswer) and erasure.response["respond_by"] == "2026-03-18T00:00:00Z"
        assert erasure.plan is not None and erasure.plan.plan[0].action == "keep"
        assert erasure.plan.plan[0].keep_for[0]["kept_by"] == "an exception of the right `delete`"
        due = pe.retention_due(at="2026-03-01T00:00:00Z")
        assert due.due == 0 and not due.truncated  # fraud is still suspected: the IP address is kept
        gone = pe.forget_subject("c 1:a", "erasure-c1")
        assert gone.erased == 5 and pe.subject("c 1:a").tombstone.request_id == "erasure-c1"
        with pytest.raises(APIError) as err:
            pe.record_event("c 1:a", {"kind": "begin", "fact": "active_account", "at": "2026-01-05T00:00:00Z"})
        assert err.value.status == 410 and err.value.code == "subject.forgotten"


def test_the_rights_limit_reaches_the_client_as_429_with_the_next_possible_time(server):
    with Client(server.url, token=WRITE) as pe:
        for day in ("2026-01-01", "2026-02-01"):
            pe.subject_request("c2", {"kind": "access", "received_at": f"{day}T00:00:00Z"})
        with pytest.raises(APIError) as err:
            pe.subject_request("c2", {"kind": "access", "received_at": "2026-03-01T00:00:00Z"})
    assert err.value.status == 429 and err.value.code == "subject.request_limit"
    assert err.value.body["error"]["next_possible"] == "2026-12-27T00:00:00Z"
    assert "at most 2 access requests per P12M" in err.value.message


def test_the_async_client_has_the_same_methods(server):
    async def run() -> None:
        async with AsyncClient(server.url, token=WRITE) as pe:
            event = await pe.record_event("c3", {"kind": "collected", "category": "ip_address", "source": "website",
                                                 "at": "2026-01-01T00:00:00Z"})
            assert (await pe.subject("c3")).data[0].category == "ip_address"
            due = await pe.retention_due(at="2026-03-01T00:00:00Z", limit=10)
            assert any(i.subject == "c3" and i.action == "delete_now" for i in due.items)
            answer = await pe.decide_subject({**KEEP, "subject": "c3"})
            assert answer.decision == "deny" and answer.evidence == []
            access = await pe.subject_request("c3", {"kind": "access"})
            assert access.data is not None and access.data.events[0].id == event.id
            assert (await pe.forget_subject("c3", "erasure-c3")).erased == 2
    asyncio.run(run())
