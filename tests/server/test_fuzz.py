"""OpenAPI-driven fuzzing with schemathesis: requests generated from /openapi.json, valid and
invalid (positive and negative modes), sent to the real server. No answer may be a 5xx; every
answer must match the status codes and schemas the document declares; the log stays clean."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from .conftest import ADMIN_TOKEN, Server, assert_clean_log, start

pytestmark = pytest.mark.slow  # starts server processes

EXAMPLES = int(os.environ.get("POLICY_ENGINE_FUZZ_EXAMPLES", "100"))


@pytest.fixture(scope="module")
def fuzz_server(workdir: Path, token_files: dict[str, Path]) -> Iterator[Server]:
    srv = start(workdir, Path("policies/open_e.policy"), "--admin-token-file", str(token_files["admin"]),
                "--decision-log", str(workdir / "fuzz-decisions.sqlite3"))
    yield srv
    srv.stop()


def negative_data_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' negative_data_rejection, with 413 counted as a refusal (a batch over --max-batch)."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_refused]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_server_error_and_answers_match_the_document(fuzz_server: Server, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11  # decide, batch, explain, rights, policy, terms, map, healthz, readyz, metrics, reload
    failures: list[str] = []
    sent = [0]
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
        def run(case: Any) -> None:
            response = case.call(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                 timeout=10)
            sent[0] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # an operation without parameters or body has no invalid input to make
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as err:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {type(err).__name__}: {str(err)[:2000]}")
    assert not failures, "\n\n".join(failures)
    print(f"fuzz {mode}: {sent[0]} requests")
    assert sent[0] >= len(operations) * 5


def test_the_fuzzed_server_is_up_with_a_clean_log(fuzz_server: Server) -> None:
    import httpx

    assert httpx.get(fuzz_server.url + "/healthz").status_code == 200
    text = httpx.get(fuzz_server.url + "/metrics").text
    assert not [line for line in text.splitlines() if line.startswith("policy_engine_requests_total")
                and 'status="5' in line]
    assert_clean_log(fuzz_server)
