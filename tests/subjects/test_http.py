"""The subject endpoints over HTTP, on the installed `policy-engine serve`, on both stores: events
with an Idempotency-Key, the subject view, subject decisions, requests, the sweep, token scopes,
no subject id in the access log or metrics, and 503 + Retry-After with the store down while fact
questions are still answered."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Server, free_port
from tests.subjects.conftest import _fresh_pg

SHOP = Path(__file__).with_name("shop.policy")
READ, WRITE = "reader-token-1", "writer-token-1"
SECRET_ID = "subject-4711-private"
MARKETING = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}


def _tokens(workdir: Path) -> str:
    path = workdir / "subjects.tokens"
    path.write_text(f"# the tests' subject tokens\n{READ} subjects:read\n{WRITE} subjects:read subjects:write\n")
    return str(path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("subjects-http")
    url = str(workdir / "subjects.sqlite3") if request.param == "sqlite" else \
        _fresh_pg(request.getfixturevalue("pg_url"))
    srv = Server(workdir, SHOP, "--access-log", env={"POLICY_ENGINE_SUBJECT_STORE": url,
                                                     "POLICY_ENGINE_SUBJECT_TOKENS": _tokens(workdir)}).wait_ready()
    yield srv
    srv.stop()


def test_events_are_recorded_once_per_idempotency_key(server):
    with server.client(WRITE) as c:
        body = {"kind": "begin", "fact": "newsletter_form", "at": "2026-01-01T00:00:00Z", "channel": "web form",
                "evidence": "confirmation mail 991"}
        first = c.post(f"/v1/subjects/{SECRET_ID}/events", json=body, headers={"Idempotency-Key": "e-1"})
        again = c.post(f"/v1/subjects/{SECRET_ID}/events", json=body, headers={"Idempotency-Key": "e-1"})
        assert first.status_code == 201 and again.status_code == 200
        assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
        other = c.post(f"/v1/subjects/{SECRET_ID}/events", json={**body, "evidence": "x"},
                       headers={"Idempotency-Key": "e-1"})
        assert other.status_code == 409 and other.json()["error"]["field"] == "Idempotency-Key"
        c.post(f"/v1/subjects/{SECRET_ID}/events", json={"kind": "collected", "category": "email",
                                                         "source": "contact", "at": "2026-01-01T00:00:00Z"})
        view = c.get(f"/v1/subjects/{SECRET_ID}").json()
    assert [e["kind"] for e in view["events"]] == ["begin", "collected"]
    assert [f["fact"] for f in view["facts_now"]] == ["newsletter_form"]


@pytest.mark.parametrize("body, status, field", [
    ({"kind": "begin", "fact": "newsletter"}, 422, "fact"),
    ({"kind": "begin"}, 422, "fact"),
    ({"kind": "collected", "category": "email", "source": "forum"}, 422, "source"),
    ({"kind": "begin", "fact": "newsletter_form", "at": "2026-01-01"}, 422, "at"),
])
def test_bad_events_get_4xx_naming_the_field(server, body, status, field):
    with server.client(WRITE) as c:
        r = c.post("/v1/subjects/x/events", json=body)
    assert r.status_code == status and r.json()["error"]["field"] == field
    with server.client(WRITE) as c:
        assert c.post("/v1/subjects/x/events", content=b"{not json").status_code == 400


def test_a_subject_decision_carries_the_evidence(server):
    with server.client(WRITE) as c:
        c.post("/v1/subjects/d1/events", json={"kind": "begin", "fact": "newsletter_form",
                                               "at": "2026-01-01T00:00:00Z"})
    with server.client(READ) as c:
        r = c.post("/v1/subjects/decide", json={**MARKETING, "subject": "d1"})
        assert r.status_code == 200 and r.json()["decision"] == "allow"
        assert r.json()["evidence"][0]["fact"] == "newsletter_form"
        unknown = c.post("/v1/subjects/decide", json={**MARKETING, "subject": "never-seen"}).json()
        assert unknown["decision"] == "deny" and unknown["subject"]["known"] is False
        both = c.post("/v1/subjects/decide", json={**MARKETING, "subject": "d1", "facts": []})
        assert both.status_code == 422 and both.json()["error"]["code"] == "query.subject_and_facts"


def test_subject_questions_on_decide_and_batch_and_in_the_decision_log(server):
    with server.client(WRITE) as c:
        given = c.post("/v1/subjects/d2/events", json={"kind": "begin", "fact": "newsletter_form",
                                                       "at": "2026-01-01T00:00:00Z", "evidence": "mail 5"}).json()
    with server.client(READ) as c:
        one = c.post("/v1/decide", json={**MARKETING, "subject": "d2", "at": "2026-02-01T00:00:00Z"})
        assert one.status_code == 200 and one.json()["decision"] == "allow"
        assert one.json()["evidence"] == [{"fact": "newsletter_form", "event": given["id"],
                                           "since": "2026-01-01T00:00:00Z"}]
        assert one.json()["subject"] == {"id": "d2", "at": "2026-02-01T00:00:00Z", "known": True}
        batch = c.post("/v1/decide/batch", json={"queries": [
            {**MARKETING, "subject": "d2"}, {**MARKETING, "facts": []}, {**MARKETING, "subject": "never-seen"},
            {**MARKETING, "subject": "d2", "facts": ["newsletter_form"]}]}).json()["answers"]
        assert [a.get("decision") for a in batch[:3]] == ["allow", "deny", "deny"]
        assert "evidence" not in batch[1] and batch[2]["subject"]["known"] is False
        assert "closed world" in batch[2]["subject"]["note"]
        assert batch[3]["error"]["code"] == "query.subject_and_facts" and batch[3]["error"]["field"] == "facts"
        both = c.post("/v1/decide", json={**MARKETING, "subject": "d2", "facts": []})
        assert both.status_code == 422 and both.json()["error"]["code"] == "query.subject_and_facts"
    with server.client() as c:  # a subject question reads personal data: the subjects:read scope
        assert c.post("/v1/decide", json={**MARKETING, "subject": "d2"}).status_code == 401
    import sqlite3
    import time
    log = server.workdir / "state" / "policy-engine" / "decisions.sqlite3"
    for _ in range(100):  # the buffered log commits moments after the answer; bounded wait
        with sqlite3.connect(log) as db:
            rows = [r[0] for r in db.execute("SELECT query FROM decisions") if '"subject":"d2"' in r[0]]
        if len(rows) >= 2:
            break
        time.sleep(0.05)
    assert f'"evidence":[{{"fact":"newsletter_form","event":{given["id"]},' in rows[0]
    assert '"at":"2026-02-01T00:00:00Z"' in rows[0] and '"facts":{"newsletter_form":"2026-01-01T00:00:00Z"}' in rows[0]


def test_requests_and_the_sweep(server):
    with server.client(WRITE) as c:
        for body in ({"kind": "begin", "fact": "active_account", "at": "2026-01-01T00:00:00Z"},
                     {"kind": "collected", "category": "ip_address", "source": "website", "at": "2026-01-01T00:00:00Z"},
                     {"kind": "collected", "category": "email", "source": "contact", "at": "2026-01-01T00:00:00Z"},
                     {"kind": "end", "fact": "active_account", "at": "2026-02-01T00:00:00Z"}):
            assert c.post("/v1/subjects/r1/events", json=body).status_code == 201
        plan = c.post("/v1/subjects/r1/requests", json={"kind": "erasure"}, headers={"Idempotency-Key": "q1"}).json()
        assert {(p["data"], p["action"]) for p in plan["plan"]["plan"]} == {("email", "keep"),
                                                                            ("ip_address", "delete_now")}
        access = c.post("/v1/subjects/r1/requests", json={"kind": "access"}).json()
        assert len(access["data"]["events"]) == 4
        bad = c.post("/v1/subjects/r1/requests", json={"kind": "erase"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "kind"
    with server.client(READ) as c:
        due = c.get("/v1/retention/due", params={"at": "2026-03-01T00:00:00Z"}).json()
    assert {"subject": "r1", "data": "ip_address", "source": "website"}.items() <= next(
        i for i in due["items"] if i["subject"] == "r1").items()


def test_forget_over_http_and_the_replay_is_refused(server):
    body = {"kind": "begin", "fact": "newsletter_form", "at": "2026-01-01T00:00:00Z"}
    with server.client(WRITE) as c:
        c.post("/v1/subjects/f1/events", json=body, headers={"Idempotency-Key": "f-1"})
        gone = c.delete("/v1/subjects/f1", params={"request_id": "erasure-9"})
        assert gone.status_code == 200 and gone.json()["erased"] == 1
        replay = c.post("/v1/subjects/f1/events", json=body, headers={"Idempotency-Key": "f-1"})
        assert replay.status_code == 410 and replay.json()["error"]["code"] == "subject.forgotten"


def test_scopes(server):
    with server.client() as c:
        r = c.get("/v1/subjects/x")
        assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
        assert c.post("/v1/decide", json={**MARKETING, "facts": []}).status_code == 200  # fact questions stay open
    with server.client(READ) as c:
        assert c.post("/v1/subjects/x/events", json={"kind": "begin", "fact": "active_account"}).status_code == 403
        assert c.get("/v1/subjects/x").status_code == 200
    with server.client("nope") as c:
        assert c.get("/v1/subjects/x").status_code == 401


def test_no_subject_id_in_access_log_or_metrics(server):
    with server.client(WRITE) as c:
        c.get(f"/v1/subjects/{SECRET_ID}")
    metrics = httpx.get(server.url + "/metrics").text
    log = server.stderr() + server.stdout()
    assert "/v1/subjects/{id}" in log
    assert SECRET_ID not in log and SECRET_ID not in metrics
    assert "confirmation mail 991" not in log and "confirmation mail 991" not in metrics


def test_store_down_subject_questions_503_fact_questions_answered(tmp_path):
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    srv = Server(tmp_path, SHOP, env={"POLICY_ENGINE_SUBJECT_STORE": dead,
                                      "POLICY_ENGINE_SUBJECT_TOKENS": _tokens(tmp_path)}).wait_ready()
    try:
        with srv.client(READ) as c:
            r = c.post("/v1/subjects/decide", json={**MARKETING, "subject": "1"})
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert r.json()["error"]["code"] == "subjects.unavailable"
            assert c.get("/v1/subjects/1").status_code == 503
            assert c.post("/v1/decide", json={**MARKETING, "facts": ["newsletter_form"]}).json()["decision"] == "allow"
            one = c.post("/v1/decide", json={**MARKETING, "subject": "1"})
            assert one.status_code == 503 and one.headers["retry-after"] == "5"
            batch = c.post("/v1/decide/batch", json={"queries": [{**MARKETING, "subject": "1"},
                                                                 {**MARKETING, "facts": ["newsletter_form"]}]})
            slots = batch.json()["answers"]
            assert slots[0]["error"]["code"] == "subjects.unavailable" and slots[1]["decision"] == "allow"
    finally:
        srv.stop()


def test_a_subject_question_without_a_store_names_the_setting(tmp_path):
    srv = Server(tmp_path, SHOP).wait_ready()
    try:
        with srv.client() as c:
            r = c.post("/v1/decide", json={**MARKETING, "subject": "1"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "query.no_subject_store"
        assert "POLICY_ENGINE_SUBJECT_STORE" in r.json()["error"]["message"]
    finally:
        srv.stop()


def test_fuzzed_subject_endpoints_never_answer_5xx(tmp_path):
    """schemathesis over the subject operations of /openapi.json, valid and invalid input: no 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    srv = Server(tmp_path, SHOP, env={"POLICY_ENGINE_SUBJECT_STORE": str(tmp_path / "fuzz.sqlite3"),
                                      "POLICY_ENGINE_SUBJECT_TOKENS": _tokens(tmp_path)}).wait_ready()
    try:
        schema = schemathesis.openapi.from_url(srv.url + "/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        operations = [op for op in operations if "/subjects" in op.path or "/retention" in op.path]
        assert len(operations) == 6
        sent = [0]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for operation in operations:
                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
                def run(case):  # type: ignore[no-untyped-def]
                    response = case.call(base_url=srv.url, headers={"Authorization": f"Bearer {WRITE}"}, timeout=10)
                    sent[0] += 1
                    case.validate_response(response, checks=[not_a_server_error])
                try:
                    run()
                except Unsatisfiable:  # an operation with nothing to make invalid
                    assert mode is GenerationMode.NEGATIVE, operation.label
        assert sent[0] >= 6 * 2
        assert "Traceback" not in srv.stderr()
    finally:
        srv.stop()
