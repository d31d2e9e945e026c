"""Both stores, for every store test: a real SQLite file and a real PostgreSQL server (pg.py)."""

from __future__ import annotations

import os
import uuid

import pytest

from policy_engine.subjects.store import SubjectStore
from tests.subjects.pg import postgres_server

@pytest.fixture(scope="session")
def pg_url():
    try:
        with postgres_server() as url:
            yield url
    except FileNotFoundError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {err}")
        pytest.skip(f"no PostgreSQL here: {err}")


def _fresh_pg(pg_url: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex}"  # unique however many copies of this module are imported
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "subjects.sqlite3")
    return _fresh_pg(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url):
    s = SubjectStore.open(store_url)
    yield s
    s.close()
