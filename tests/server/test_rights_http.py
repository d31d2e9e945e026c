"""POST /v1/rights against the real server (the installed console script on loopback), on the GitHub
policy: the same answers as the library's `Policy.rights`, the same error shapes and token as
/v1/decide, the operation in the OpenAPI document, and the Python client's `rights` (blocking and
asyncio) typed as the library's RightsAnswer. Transfers over HTTP: `destination` in /v1/decide."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

import policy_engine
from policy_engine.client import AsyncClient, Client, RightsAnswer
from policy_engine.engine.query import QueryError

from paths import REPO

from .conftest import DECIDE_TOKEN, Server, assert_clean_log, start

pytestmark = pytest.mark.slow  # starts server processes

GITHUB = Path("policies/github.policy")
QUESTIONS: list[dict[str, Any]] = [
    {"right": "delete", "facts": ["resident.us.california"]},
    {"right": "delete", "facts": ["resident.eea"]},
    {"right": "delete"},
    {"right": "erasure", "facts": []},
    {"right": "opt_out_of_sale", "facts": None},
    {"right": "know"},
    {"right": "delete", "facts": {"resident.us.california": "2026-01-01T00:00:00Z"}, "at": "2026-06-01T00:00:00Z"},
]


@pytest.fixture(scope="module")
def github_server(workdir: Path) -> Iterator[Server]:
    srv = start(workdir, GITHUB, "--no-decision-log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def locked(workdir: Path, token_files: dict[str, Path]) -> Iterator[Server]:
    srv = start(workdir, GITHUB, "--token-file", str(token_files["decide"]), "--no-decision-log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def library() -> policy_engine.Policy:
    here = os.getcwd()
    os.chdir(REPO)  # reasons name the file as the server (started in the repo) does
    try:
        return policy_engine.load(str(GITHUB))
    finally:
        os.chdir(here)


@pytest.mark.parametrize("question", QUESTIONS, ids=[str(q) for q in QUESTIONS])
def test_the_server_answers_as_the_library_does(github_server, library, question):
    with github_server.client() as http:
        r = http.post("/v1/rights", json=question)
    assert r.status_code == 200, r.text
    assert r.json() == library.rights(question).to_dict()


def test_an_answer_names_channels_deadline_limit_and_the_granting_statement(github_server):
    with github_server.client() as http:
        body = http.post("/v1/rights", json={"right": "delete", "facts": ["resident.us.california"]}).json()
    assert body["decision"] == "allow" and body["channels"] and body["deadline"].startswith("P")
    assert body["reasons"] and all(r["file"] == "policies/github.policy" for r in body["reasons"])
    with github_server.client() as http:
        partial = http.post("/v1/rights", json={"right": "delete"}).json()
    assert partial["decision"] == "conditional" and "resident.us" in partial["requires"]


@pytest.mark.parametrize("body, status, code, field", [
    ({"right": "delet"}, 422, "query.unknown_term", "right"),
    ({"right": "delete", "facts": ["resident.mars"]}, 422, "query.unknown_term", "facts"),
    ({"right": "delete", "facts": "resident.eea"}, 422, "query.wrong_type", "facts"),
    ({"facts": []}, 422, "query.missing_field", "right"),
    ({"right": "delete", "destination": "region.us"}, 422, "query.unknown_field", "destination"),
    ([1, 2], 422, "query.wrong_type", None),
    ({"right": "delete", "at": "2026-06-01"}, 422, "query.invalid_time", "at"),
    ({"right": "delete", "facts": {"resident.eea": "yesterday"}}, 422, "query.invalid_time", "facts.resident.eea"),
])
def test_a_bad_question_gets_the_error_shape_of_decide(github_server, body, status, code, field):
    with github_server.client() as http:
        r = http.post("/v1/rights", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert set(error) >= {"code", "message", "field", "suggestions"}
    if body == {"right": "delet"}:
        assert error["suggestions"] == ["delete"]
    assert_clean_log(github_server)


def test_bad_json_is_a_400_as_for_decide(github_server):
    with github_server.client() as http:
        rights = http.post("/v1/rights", content=b'{"right": "delete"', headers={"Content-Type": "application/json"})
        decide = http.post("/v1/decide", content=b'{"right": "delete"', headers={"Content-Type": "application/json"})
    assert rights.status_code == decide.status_code == 400
    assert rights.json()["error"]["code"] == decide.json()["error"]["code"]


def test_rights_needs_the_decision_token(locked):
    with locked.client() as http:
        r = http.post("/v1/rights", json={"right": "delete"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.missing_token"
    with locked.client(token="nope") as http:
        assert http.post("/v1/rights", json={"right": "delete"}).json()["error"]["code"] == "auth.invalid_token"
    with locked.client(token=DECIDE_TOKEN) as http:
        assert http.post("/v1/rights", json={"right": "delete"}).status_code == 200


def test_the_operation_is_in_the_openapi_document(github_server):
    with github_server.client() as http:
        doc = http.get("/openapi.json").json()
    op = doc["paths"]["/v1/rights"]["post"]
    assert op["operationId"] == "rights"
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["right"] and "delete" in schema["properties"]["right"]["enum"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RightsAnswer")
    assert {"400", "401", "422"} <= set(op["responses"])
    answer = doc["components"]["schemas"]["RightsAnswer"]
    assert {"right", "decision", "channels", "exceptions", "reasons", "policy"} <= set(answer["properties"])
    assert "destination" in doc["components"]["schemas"]["Query"]["properties"]


def test_the_client_asks_rights_blocking_and_async(github_server, library):
    question = {"right": "delete", "facts": ["resident.us.california"]}
    with Client(github_server.url) as client:
        got = client.rights(question)
        assert isinstance(got, RightsAnswer) and got == library.rights(question)
        with pytest.raises(QueryError) as err:
            client.rights({"right": "delet"})
        assert err.value.code == "query.unknown_term" and err.value.suggestions == ["delete"]

    async def ask() -> RightsAnswer:
        async with AsyncClient(github_server.url) as client:
            return await client.rights({"right": "delete"})

    answer = asyncio.run(ask())
    assert isinstance(answer, RightsAnswer) and answer.decision == "conditional"
    assert answer == library.rights({"right": "delete"})


def test_decide_takes_a_destination_and_cites_the_safeguard(github_server, library):
    query = {"action": "share", "data": "account", "recipient": "service_provider", "destination": "region.us",
             "facts": ["resident.eea"]}
    with Client(github_server.url) as client:
        d = client.decide(query)
        assert d.as_decision() == library.decide(query) and d.decision_id
        assert {r.safeguard for r in d.reasons} >= {"standard_contractual_clauses",
                                                     "certification.data_privacy_framework"}
        (batch,) = client.decide_many([query])
        assert batch.as_decision() == d.as_decision() and batch.decision_id > d.decision_id
        with pytest.raises(QueryError) as err:
            client.decide({**query, "destination": "region.usa"})
    assert err.value.field == "destination" and "region.us" in err.value.suggestions
    assert "unknown region `region.usa`" in err.value.message
    assert_clean_log(github_server)


def test_the_data_map_lists_the_transfers_over_http_and_in_the_client(github_server, library):
    want = [t.to_dict() for t in library.transfers()]
    assert want and any(t["safeguard"] for t in want)
    with github_server.client() as http:
        body = http.get("/v1/map", params={"transfers": "true"}).json()
        assert body["transfers"] == want
        assert set(body) == {"policy", "transfers"}  # only the question asked
        both = http.get("/v1/map", params={"data": "account", "transfers": "true"}).json()
        assert both["transfers"] == want and "uses" in both
        assert "transfers" not in http.get("/v1/map", params={"data": "account"}).json()
        r = http.get("/v1/map", params={"transfers": "perhaps"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "transfers"
        r = http.get("/v1/map")
        assert r.status_code == 400 and "transfers" in r.json()["error"]["suggestions"]
    with Client(github_server.url) as client:
        typed = client.data_map(transfers=True)
    assert [t.model_dump() for t in typed.transfers or []] == want
    us = next(t for t in typed.transfers or [] if t.safeguard == "standard_contractual_clauses")
    assert us.destinations == ["region.us"] and us.section == "International data transfers"
