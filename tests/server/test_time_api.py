"""Timed questions over HTTP against the real server: `at`, `collected_at` and facts with times in
`/v1/decide` and the batch, answered as the library answers them (with `until` / `from`), bad
timestamps as errors naming the field, and the Python client sending datetimes as RFC 3339."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

import policy_engine
from policy_engine import QueryError
from policy_engine.client import Client

from .conftest import REPO, Server, start

pytestmark = pytest.mark.slow  # starts a server process

POLICY = Path("tests/cases/queries/time.policy")
CLOSED = "2026-03-01T00:00:00Z"
QUERIES: list[dict[str, Any]] = [
    {"action": "retain", "data": "account", "purpose": "legal_obligations", "facts": {"account_closed": CLOSED},
     "at": "2026-03-20T00:00:00Z"},
    {"action": "retain", "data": "account", "purpose": "legal_obligations", "facts": {"account_closed": True},
     "at": "2026-03-20T00:00:00Z"},
    {"action": "retain", "data": "usage.ip_address", "purpose": "safety", "facts": [], "collected_at": CLOSED,
     "at": "2026-03-02T00:00:00Z"},
    {"action": "retain", "data": "account", "purpose": "legal_obligations",
     "facts": {"account_closed": "2026-04-01T00:00:00Z"}, "at": "2026-03-20T00:00:00Z"},
    {"action": "retain", "data": "account", "purpose": "legal_obligations"},
]


@pytest.fixture(scope="module")
def timed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start(tmp_path_factory.mktemp("time"), POLICY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def library() -> Any:
    here = os.getcwd()
    os.chdir(REPO)
    try:
        return policy_engine.load(POLICY)
    finally:
        os.chdir(here)


def test_timed_answers_over_http_are_the_library_answers(timed_server, library):
    with timed_server.client() as http:
        for q in QUERIES:
            got = http.post("/v1/decide", json=q)
            assert got.status_code == 200, got.text
            served = got.json()
            assert served.pop("decision_id")  # the server's id of this decision, then the library's answer
            assert served == library.decide(q).to_dict()
        batch = http.post("/v1/decide/batch", json={"queries": QUERIES})
        assert batch.status_code == 200
        answers = batch.json()["answers"]
        assert all(a.pop("decision_id") for a in answers)
        assert answers == [library.decide(q).to_dict() for q in QUERIES]
    first = library.decide(QUERIES[0]).to_dict()
    assert first["until"] == "2026-03-31T00:00:00Z"
    assert library.decide(QUERIES[3]).to_dict()["from"] == "2026-04-01T00:00:00Z"


def test_a_bad_timestamp_is_an_error_naming_the_field(timed_server):
    with timed_server.client() as http:
        got = http.post("/v1/decide", json={**QUERIES[0], "facts": {"account_closed": "2026-03-01"}})
        assert got.status_code in (400, 422)
        error = got.json()["error"]
        assert error["code"] == "query.invalid_time" and error["field"] == "facts.account_closed"
        batch = http.post("/v1/decide/batch", json={"queries": [{**QUERIES[0], "at": "noon"}, QUERIES[0]]})
        answers = batch.json()["answers"]
        assert answers[0]["error"]["field"] == "at" and answers[1]["decision"] == "allow"


def test_the_client_sends_datetimes_and_reads_until_and_from(timed_server):
    closed = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    with Client(timed_server.url) as client:
        got = client.decide({"action": "retain", "data": "account", "purpose": "legal_obligations",
                             "facts": {"account_closed": closed}, "at": closed + dt.timedelta(days=3)})
        assert got.decision == "allow" and got.until == "2026-03-31T00:00:00Z"
        later = client.decide({**QUERIES[3]})
        assert later.decision == "deny" and later.from_ == "2026-04-01T00:00:00Z"
        assert got.reasons[0].limit == "within P30D after account_closed"
        with pytest.raises(QueryError) as info:
            client.decide({**QUERIES[0], "collected_at": "2027-01-01T00:00:00Z"})
        assert info.value.field == "collected_at"
