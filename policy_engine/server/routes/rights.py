"""POST /v1/rights: the rights question (`{"right": "erasure", "facts": [...]}`, facts omitted:
unknown) answered from the served policy, as `Policy.rights` answers it in the library and
`policy-engine rights` on the command line.

The same token as /v1/decide, the same limits on the body, and the same error objects: a malformed
question or an unknown right or fact is a 422 (`query.*`, naming the field, with suggestions), bad
JSON a 400. The answer is worked out on the decision pool within the server's time budget.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.engine.rights import RightsAnswer
from policy_engine.language import ast
from policy_engine.language.diagnostics import PolicyError
from policy_engine.server.errors import json_response, query_error_body, query_error_status
from policy_engine.server.limits import parse_json, read_body
from policy_engine.server.routes import JSON, WRITE_ERRORS, DirectRoute
from policy_engine.server.state import state_of

router = APIRouter(route_class=DirectRoute, tags=["rights"])


class RightsQuery(BaseModel):
    """`{"right": "erasure", "facts": ["resident.eea"]}`; `facts` omitted or null: unknown (the
    answer may be conditional, with `requires`); a list: exactly these hold; an object: these hold,
    each since the time given (`true`: time unknown), for the time limits of a right's condition."""

    model_config = ConfigDict(extra="forbid", title="RightsQuery")

    right: str = Field(description="a data-subject right: " + ", ".join(ast.RIGHTS),
                       json_schema_extra={"enum": list(ast.RIGHTS)})
    facts: list[str] | dict[str, bool | str] | None = Field(
        None, description="the facts that hold (closed world): a list, or an object of fact -> true or the RFC 3339 "
                          "time it began to hold; null: unknown")
    at: str | None = Field(None, description="the instant asked about, RFC 3339; default: now")


def _answer(policy: Any, question: Any) -> tuple[dict[str, Any], int]:
    try:
        return policy.rights(question).to_dict(), 200
    except PolicyError as err:  # a QueryError: the question cannot be answered as asked
        body = query_error_body(err)
        return body, query_error_status(body["error"]["code"])


@router.post("/v1/rights", response_model=None, operation_id="rights",
             responses={200: {"model": RightsAnswer}, **WRITE_ERRORS},
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {
                 "schema": RightsQuery.model_json_schema()}}}})
async def rights(request: Request) -> Response:
    """Whether a person has a data-subject right, where to exercise it, how fast it is answered, how
    often it may be used, what the policy still allows after the request, and the statements that
    grant it."""
    state = state_of(request)
    state.decide_auth.check(request)
    question = parse_json(await read_body(request, state.config.max_body_bytes), state.config.max_depth)
    policy = state.served.policy
    body, status = await state.decider.offload(_answer, policy, question)
    request.state.decision = body.get("decision", "error") if status == 200 else "error"
    return json_response(body, status)
