"""GET /v1/policy, /v1/terms and /v1/map: read-only views of the served policy (views.py builds them)."""

from __future__ import annotations

from fastapi import APIRouter, Query as QueryParam
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.server import schemas, views
from policy_engine.server.errors import json_response
from policy_engine.server.routes import READ_ERRORS, DirectRoute, error_responses
from policy_engine.server.state import state_of

router = APIRouter(route_class=DirectRoute, tags=["policy"])
params = APIRouter(tags=["policy"])  # /v1/map takes its question as validated query parameters


@router.get("/v1/policy", response_model=schemas.PolicyInfo, responses=READ_ERRORS, operation_id="policy_info")
async def policy_info(request: Request) -> Response:
    """The policy being served: name, digest, when it was loaded, counts of terms and rules."""
    state = state_of(request)
    state.decide_auth.check(request)
    return json_response(views.policy_info(state.served, state.config))


@router.get("/v1/terms", response_model=schemas.Terms, responses=READ_ERRORS, operation_id="terms")
async def terms(request: Request) -> Response:
    """The vocabulary: every declared term with its kind, label, parent and children."""
    state = state_of(request)
    state.decide_auth.check(request)
    return json_response(views.terms(state.served))


@params.get("/v1/map", response_model=None, operation_id="data_map",
            responses={200: {"model": schemas.DataMap}, **error_responses(400, 401, 403, 422, 503)})
async def data_map(request: Request,
                   data: str | None = QueryParam(None, description="a data term: what it may be used for, "
                                                                      "and who may receive it"),
                   source: str | None = QueryParam(None, description="narrow `data` to one source"),
                   recipient: str | None = QueryParam(None, description="which data reach this recipient"),
                   purpose: str | None = QueryParam(None, description="which rules cover this purpose"),
                   no_consent: bool = QueryParam(False, description="what the policy allows when no fact "
                                                                    "(consent, request, legal event) holds"),
                   facts: str | None = QueryParam(None, description="comma-separated facts that hold (closed "
                                                                    "world); absent: unknown"),
                   transfers: bool = QueryParam(False, description="which data the policy lets go to which "
                                                                   "region, and the safeguard each transfer rests "
                                                                   "on (GDPR Art. 30(1)(e))")) -> Response:
    """The data map: the questions a data-protection officer asks of the policy."""
    state = state_of(request)
    state.decide_auth.check(request)
    served = state.served
    body = await state.decider.offload(lambda: views.data_map(served, data=data, source=source, recipient=recipient,
                                                              purpose=purpose, no_consent=no_consent, facts=facts,
                                                              transfers=transfers))
    return json_response(body)
