"""POST /v1/explain on the real loopback server: the same sentences as `policy-engine explain`,
the same answer as /v1/decide, every matching rule with `cited` marking the answer's reasons, the
error shape of /v1/decide for a bad query, and the client's `explain` (blocking and asyncio)."""

from __future__ import annotations

import asyncio
import json
import subprocess

from policy_engine.client import AsyncClient, Client, Explanation

from .conftest import REPO, SCRIPT, assert_clean_log, without_id

MARKETING = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
QUERIES = [MARKETING, {**MARKETING, "facts": []}, {**MARKETING, "facts": ["newsletter_form"]},
           {"action": "share", "data": "email", "recipient": "public"},
           {"action": "collect", "data": "email", "source": "contact"},
           {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}]


def test_explain_says_what_the_cli_says_and_cites_what_decide_cites(server, library_policy):
    kinds = set()
    with server.client() as http:
        for query in QUERIES:
            r = http.post("/v1/explain", json=query)
            assert r.status_code == 200, r.text
            body = r.json()
            cli = subprocess.run([str(SCRIPT), "explain", "policies/open_e.policy", "--query", json.dumps(query)],
                                 capture_output=True, text=True, cwd=REPO, timeout=60)
            assert cli.returncode == 0, cli.stderr
            assert body["text"] == cli.stdout.rstrip("\n") == library_policy.explain(query)
            assert body["sentences"] == body["text"].split("\n") and body["sentences"][0].startswith("Question: ")
            decided = without_id(http.post("/v1/decide", json=query).json())
            assert body["decision"] == decided, "the answer /v1/decide gives"
            reasons = {(r["line"], r["rule"]) for r in decided["reasons"]}
            assert {(m["line"], m["rule"]) for m in body["matching"] if m["cited"]} == reasons
            effects = [m["effect"] for m in body["matching"]]
            assert effects == sorted(effects), "allows first"
            kinds.add(body["decision"]["decision"])
            if any(not m["cited"] for m in body["matching"]):
                kinds.add("uncited")
    assert {"allow", "deny", "conditional", "uncited"} <= kinds, kinds


def test_a_bad_query_is_refused_as_decide_refuses_it(server):
    with server.client() as http:
        for bad in ({**MARKETING, "data": "emial"}, {"data": "email"}, [MARKETING]):
            explained, decided = http.post("/v1/explain", json=bad), http.post("/v1/decide", json=bad)
            assert explained.status_code == decided.status_code == 422
            assert explained.json() == decided.json()
            if bad == {**MARKETING, "data": "emial"}:
                error = explained.json()["error"]
                assert error["code"] == "query.unknown_term" and error["field"] == "data"
                assert "email" in error["suggestions"]
        broken = http.post("/v1/explain", content=b'{"action": "use",', headers={"Content-Type": "application/json"})
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "query.invalid_json"
    assert_clean_log(server)


def test_the_clients_explain(server, library_policy):
    with Client(server.url) as pe:
        got = pe.explain(MARKETING)
    assert isinstance(got, Explanation) and got.text == library_policy.explain(MARKETING)
    assert got.decision == library_policy.decide(MARKETING)

    async def ask() -> list[Explanation]:
        async with AsyncClient(server.url) as pe:
            return list(await asyncio.gather(*(pe.explain(q) for q in QUERIES)))

    for query, answer in zip(QUERIES, asyncio.run(ask())):
        assert answer.text == library_policy.explain(query)
        assert [m.cited for m in answer.matching].count(True) == len(library_policy.decide(query).reasons)


def test_explain_is_in_the_openapi_document(server):
    with server.client() as http:
        doc = http.get("/openapi.json").json()
    op = doc["paths"]["/v1/explain"]["post"]
    assert op["operationId"] == "explain"
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExplainAnswer"}
    assert {"text", "sentences", "decision", "matching"} <= set(doc["components"]["schemas"]["ExplainAnswer"]["required"])
