"""The decision API over HTTP against the real server on the Open-E policy: answers identical to
the library, the batch endpoint, the read-only endpoints, and the decision log behind them."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import time
from typing import Any

import pytest

from policy_engine import QueryError, api
from policy_engine.client import APIError, Client

from .conftest import OPEN_E, SCRIPT, assert_clean_log, without_id

pytestmark = pytest.mark.slow  # starts server processes

ACTION_DIMENSIONS = {"collect": ("source",), "use": ("source", "purpose"), "share": ("source", "recipient"),
                     "retain": ("purpose",)}


def golden_queries() -> list[tuple[dict[str, Any], str]]:
    """The Open-E policy's own `expect` statements, as queries with the decision they expect."""
    _, tree = api.parse_policy(OPEN_E)
    out = []
    for _, exp in tree.expectations():
        q = exp.query
        query: dict[str, Any] = {"action": q.action, "data": q.data.id}
        for dim in ("source", "purpose", "recipient"):
            ref = getattr(q, dim)
            if ref is not None:
                query[dim] = ref.id
        if q.facts is not None:
            query["facts"] = [f.id for f in q.facts]
        out.append((query, str(getattr(exp.decision, "value", exp.decision))))
    return out


def sweep(policy: Any, n: int, seed: int = 4) -> list[Any]:
    """Deterministic random queries over the vocabulary: every action, dimensions left out or not,
    facts unknown, none or some; a few malformed or unknown-term queries among them."""
    rng = random.Random(seed)
    terms = {kind: list(ids) for kind, ids in policy.terms.items()}
    out: list[Any] = []
    for i in range(n):
        action = rng.choice(list(ACTION_DIMENSIONS))
        q: dict[str, Any] = {"action": action, "data": rng.choice(terms["data"])}
        for dim in ("source", "purpose", "recipient"):
            if dim in ACTION_DIMENSIONS[action] and rng.random() < 0.8 or rng.random() < 0.05:
                q[dim] = rng.choice(terms[dim])
        roll = rng.random()
        if roll < 0.3:
            q["facts"] = []
        elif roll < 0.7:
            q["facts"] = rng.sample(terms["fact"], rng.randint(1, 3))
        if i % 50 == 7:
            q["data"] = q["data"] + "x"  # unknown term
        elif i % 50 == 19:
            q.pop("action")  # missing field
        elif i % 50 == 31:
            q = [q]  # type: ignore[assignment]  # not an object
        out.append(q)
    return out


def library_answer(policy: Any, query: Any) -> dict[str, Any]:
    try:
        return policy.decide(query).model_dump(mode="json", exclude_none=True)
    except QueryError as err:
        return err.to_dict()


# ---- answers identical to the library ------------------------------------------------------------

def test_golden_queries_answer_as_the_library_and_the_policy_expects(server, library_policy):
    golden = golden_queries()
    assert len(golden) >= 20
    with server.client() as http:
        for query, expected in golden:
            r = http.post("/v1/decide", json=query)
            assert r.status_code == 200, (query, r.text)
            assert r.headers["content-type"] == "application/json"
            body = without_id(r.json())
            assert body == library_policy.decide(query).model_dump(mode="json", exclude_none=True), query
            assert body["decision"] == expected, query
            assert body["policy"] == {"name": library_policy.name, "digest": library_policy.digest}


def test_sweep_through_batch_and_single_is_identical_to_the_library(server, library_policy):
    queries = sweep(library_policy, 1500)
    expected = [library_answer(library_policy, q) for q in queries]
    with server.client() as http:
        got: list[Any] = []
        for start in range(0, len(queries), 500):
            r = http.post("/v1/decide/batch", json={"queries": queries[start:start + 500]})
            assert r.status_code == 200
            got.extend(without_id(r.json()["answers"]))
        assert got == expected
        for query, want in list(zip(queries, expected))[:300]:
            r = http.post("/v1/decide", json=query)
            assert without_id(r.json()) == want, query
            assert r.status_code == (200 if "decision" in want else 422)
    assert sum("error" in a for a in expected) >= 60  # the errors were really exercised


def test_batch_keeps_order_and_puts_errors_in_their_slots(server):
    queries = [{"action": "use", "data": "email", "source": "forum", "purpose": "marketing", "facts": []},
               {"action": "use", "data": "emial", "source": "forum", "purpose": "marketing"},
               "use email",
               {"action": "collect", "data": "email", "source": "contact", "facts": []}]
    with server.client() as http:
        r = http.post("/v1/decide/batch", json={"queries": queries})
        assert r.status_code == 200
        a = r.json()["answers"]
        assert [x.get("decision") for x in a] == ["deny", None, None, "allow"]
        assert a[1]["error"]["code"] == "query.unknown_term" and a[1]["error"]["field"] == "data"
        assert "email" in a[1]["error"]["suggestions"]
        assert a[2]["error"]["code"] == "query.wrong_type"
        assert http.post("/v1/decide/batch", json={"queries": []}).json() == {"answers": []}


# ---- the read-only endpoints --------------------------------------------------------------------

def test_policy_terms_and_map(server, library_policy):
    with server.client() as http:
        info = http.get("/v1/policy").json()
        assert info["name"] == library_policy.name and info["digest"] == library_policy.digest
        assert info["rules"] == library_policy.rule_count and info["terms"] == dict(library_policy.term_counts)
        assert info["loaded_at"].endswith("Z") and info["limits"]["max_batch"] == 1000

        terms = http.get("/v1/terms").json()["terms"]
        assert set(terms) == set(library_policy.terms)
        by_id = {t["id"]: t for t in terms["purpose"]}
        assert by_id["marketing.newsletter"]["parent"] == "marketing"
        assert "marketing.newsletter" in by_id["marketing"]["children"]
        assert by_id["marketing.newsletter"]["label"] == library_policy.terms["purpose"]["marketing.newsletter"].label

        m = http.get("/v1/map", params={"data": "email", "source": "forum"}).json()
        assert m["uses"] == [r.to_dict() for r in library_policy.uses("email", "forum")]
        assert m["recipients"] == [r.to_dict() for r in library_policy.recipients("email", "forum")]
        m = http.get("/v1/map", params={"recipient": "public", "purpose": "marketing", "no_consent": "true"}).json()
        assert m["data_for"] == [r.to_dict() for r in library_policy.data_for("public")]
        assert m["rules_for_purpose"] == [r.to_dict() for r in library_policy.rules_for_purpose("marketing")]
        assert m["without_consent"] == [r.to_dict() for r in library_policy.without_consent()]
        m = http.get("/v1/map", params={"data": "email", "facts": ""}).json()
        assert m["uses"] == [r.to_dict() for r in library_policy.uses("email", None, [])]

        r = http.get("/v1/map", params={"data": "emial"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "data"
        assert "email" in r.json()["error"]["suggestions"]


def test_operations_endpoints(server):
    with server.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["decision_log"]["healthy"]
        http.post("/v1/decide", json={"action": "use", "data": "email", "source": "forum", "purpose": "marketing"})
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        for name in ("policy_engine_requests_total", "policy_engine_request_duration_seconds_bucket",
                     "policy_engine_decisions_total", "policy_engine_decision_log_flushed_rows_total",
                     "policy_engine_policy_info"):
            assert name in text, name
        assert 'policy_engine_request_duration_seconds_count{decision="deny",endpoint="/v1/decide"}' in text
        doc = http.get("/openapi.json").json()
        assert {"/v1/decide", "/v1/decide/batch", "/v1/policy", "/v1/terms", "/v1/map", "/healthz", "/readyz",
                "/metrics", "/v1/admin/reload"} <= set(doc["paths"])
        body = doc["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Query"}
        assert doc["components"]["schemas"]["Query"]["additionalProperties"] is False
        docs = http.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()


# ---- the decision log -----------------------------------------------------------------------------

def test_decisions_reach_the_log_and_policy_engine_log_reads_them(server, workdir, library_policy):
    db = workdir / "decisions.sqlite3"
    marker = {"action": "share", "data": "ip_address", "source": "website", "recipient": "analytics_partner",
              "facts": ["legal_requirement"]}
    with server.client() as http:
        before = server.metric("policy_engine_decision_log_flushed_rows_total")
        for _ in range(3):
            assert http.post("/v1/decide", json=marker).status_code == 200
        deadline = time.monotonic() + 10
        while server.metric("policy_engine_decision_log_flushed_rows_total") < before + 3:
            assert time.monotonic() < deadline, "the decision log did not flush"
            time.sleep(0.05)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    out = subprocess.run([str(SCRIPT), "log", "--db", str(db), "--data", "ip_address", "--recipient",
                          "analytics_partner", "--format", "json"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) >= 3
    want = library_policy.decide(marker)
    row = rows[-1]
    assert row["query"] == marker and row["decision"] == want.decision and row["digest"] == library_policy.digest
    assert row["rules"] == [r.model_dump(mode="json") for r in want.reasons] and row["latency_us"] >= 0
    out = subprocess.run([str(SCRIPT), "log", "--db", str(db), "--count", "--digest", library_policy.digest[:15],
                          "--since", "1h"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and int(out.stdout) >= 3


# ---- the client ---------------------------------------------------------------------------------

def test_client_answers_as_the_library(server, library_policy):
    from policy_engine import Query

    queries = [q for q in sweep(library_policy, 300, seed=9) if "error" not in library_answer(library_policy, q)]
    with Client(server.url) as client:
        assert client.decide(queries[0]).as_decision() == library_policy.decide(queries[0])
        assert client.decide(Query(**queries[1])).as_decision() == library_policy.decide(queries[1])
        many = client.decide_many(queries)
        assert [d.as_decision() for d in many] == library_policy.decide_many(queries)
        ids = [d.decision_id for d in many]
        assert len(set(ids)) == len(ids) and ids == sorted(ids), "unique, in the order they were made"
        client.batch_size = 7  # several requests, same answers
        assert [d.as_decision() for d in client.decide_many(queries[:30])] == library_policy.decide_many(queries[:30])
        with pytest.raises(QueryError) as err:
            client.decide({"action": "use", "data": "email", "purpose": "marketting"})
        assert err.value.code == "query.unknown_term" and err.value.field == "purpose"
        assert "marketing" in err.value.suggestions
        with pytest.raises(QueryError) as err:
            client.decide_many([queries[0], {"action": "use", "data": "email"}])
        assert err.value.code == "query.missing_dimension" and err.value.index == 1  # type: ignore[attr-defined]
        assert client.policy()["digest"] == library_policy.digest and client.ready()
        with pytest.raises(APIError) as api_err:
            client.reload()  # no admin token
        assert api_err.value.status == 401
    assert_clean_log(server)
