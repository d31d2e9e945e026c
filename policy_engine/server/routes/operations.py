"""GET /healthz, /readyz and /metrics: for load balancers and Prometheus; never authenticated,
never waiting on a decision (they run on the event loop and do no CPU-heavy work)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.server import schemas
from policy_engine.server.errors import json_response
from policy_engine.server.routes import DirectRoute
from policy_engine.server.state import state_of

router = APIRouter(route_class=DirectRoute, tags=["operations"])


@router.get("/healthz", response_model=schemas.Health, operation_id="healthz")
async def healthz(request: Request) -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get("/readyz", response_model=schemas.Ready, responses={503: {"model": schemas.Ready}}, operation_id="readyz")
async def readyz(request: Request) -> Response:
    """Ready to answer: a policy is loaded and the decision log writer is running."""
    state = state_of(request)
    sink = state.log
    ok = sink.healthy()
    body = {"status": "ready" if ok else "not_ready", "policy": state.served.summary,
            "decision_log": {"flushed": sink.flushed, "pending": sink.pending(), "dropped": sink.dropped,
                             "healthy": ok}}
    return json_response(body, 200 if ok else 503)


@router.get("/metrics", response_class=Response, operation_id="metrics",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text exposition format (version 0.0.4)"}})
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics."""
    payload, content_type = state_of(request).metrics.exposition()
    return Response(payload, media_type=content_type)
