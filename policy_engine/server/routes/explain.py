"""POST /v1/explain: a query -> what `policy-engine explain` says about it (the sentences, the answer
and every matching rule, engine/explain.py). For people and support tools, not for the hot path:
it is answered on the decision pool within the request budget and is not written to the decision
log (it decides nothing a service acts on; the same query on /v1/decide does).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.language.diagnostics import PolicyError
from policy_engine.server import schemas
from policy_engine.server.errors import json_response, query_error_body, query_error_status
from policy_engine.server.limits import parse_json, read_body
from policy_engine.server.routes import JSON, WRITE_ERRORS, DirectRoute
from policy_engine.server.state import state_of

router = APIRouter(route_class=DirectRoute, tags=["decisions"])


def _explain(policy: Any, query: Any) -> tuple[dict[str, Any], int]:
    try:
        return policy.explanation(query), 200
    except PolicyError as err:  # a malformed query or an unknown term: the error shape of /v1/decide
        body = query_error_body(err)
        return body, query_error_status(body["error"]["code"])


@router.post("/v1/explain", response_model=None, operation_id="explain",
             responses={200: {"model": schemas.ExplainAnswer}, **WRITE_ERRORS},
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {
                 "$ref": "#/components/schemas/Query"}}}}})
async def explain(request: Request) -> Response:
    """Explain one query (the body of /v1/decide) in sentences, with the rules that decide it."""
    state = state_of(request)
    state.decide_auth.check(request)
    query = parse_json(await read_body(request, state.config.max_body_bytes), state.config.max_depth)
    body, status = await state.decider.offload(_explain, state.served.policy, query)
    request.state.decision = "error" if status != 200 else "explain"
    if status != 200:
        state.metrics.query_errors.labels("/v1/explain", body["error"]["code"]).inc()
    return json_response(body, status)
