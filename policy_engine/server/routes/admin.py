"""POST /v1/admin/reload: reload the policy file the server was started with (never a path from
the request), on a pool thread; with --workers N, the supervisor passes the reload on to every worker."""

from __future__ import annotations

import os
import signal

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.server import schemas
from policy_engine.server.errors import ApiError, json_response
from policy_engine.server.limits import read_body
from policy_engine.server.routes import WRITE_ERRORS, DirectRoute
from policy_engine.server.state import state_of

router = APIRouter(route_class=DirectRoute, tags=["admin"])


@router.post("/v1/admin/reload", response_model=schemas.ReloadAnswer, operation_id="reload",
             responses={**WRITE_ERRORS, 422: {"model": schemas.ErrorBody,
                                              "description": "the new version does not check; the old one still serves"}})
async def admin_reload(request: Request) -> Response:
    """Reload the policy file the server was started with (no path is taken from the request).
    A version that fails to check keeps the old one serving; the diagnostics come back."""
    state = state_of(request)
    state.admin_auth.check(request)
    body = await read_body(request, 1024)
    if body.strip() not in (b"", b"{}"):
        raise ApiError(400, "request.unexpected_body", "reload takes no parameters: it reloads the file the "
                       "server was started with")
    result = await run_in_threadpool(state.reload, "api")
    if state.config.workers > 1 and result.result == "reloaded":
        os.kill(os.getppid(), signal.SIGHUP)  # the supervisor passes it on to every worker
    if not result.ok:
        n = len(result.diagnostics)
        return json_response({"error": {
            "code": "reload.failed", "field": None, "suggestions": [],
            "message": f"the policy does not check ({n} error{'s' * (n != 1)}); still serving "
                       f"{result.previous_digest}",
            "diagnostics": [d.to_dict() for d in result.diagnostics]},
            "policy": result.to_dict()["policy"]}, 422)
    return json_response(result.to_dict())
