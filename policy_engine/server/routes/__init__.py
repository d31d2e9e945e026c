"""The endpoints, one module per group, each a module-level APIRouter over `state_of(request)`:

    decisions.py   POST /v1/decide, POST /v1/decide/batch
    rights.py      POST /v1/rights
    explain.py     POST /v1/explain
    policy.py      GET /v1/policy, /v1/terms, /v1/map
    operations.py  GET /healthz, /readyz, /metrics
    admin.py       POST /v1/admin/reload
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.server import schemas

JSON = "application/json"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": schemas.ErrorBody} for status in statuses}


WRITE_ERRORS = error_responses(400, 401, 403, 413, 422)  # a request with a body
READ_ERRORS = error_responses(401, 403)


class DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response itself: no dependency solving and
    no response validation on the hot path. It is documented in the OpenAPI document all the same."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint
