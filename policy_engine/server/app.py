"""The ASGI app: `create_app(config) -> FastAPI`. In: a ServerConfig (and optionally a policy
already loaded by the CLI). Out: the decision API of issue 4 over the same engine as the library.

Each handler reads the served policy once (`holder.current`) and answers from it, so a reload
never splits a request across two versions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import Counter
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Coroutine

from fastapi import APIRouter, FastAPI, Query as QueryParam, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from policy_engine import Decision, PolicyError, Query, __version__
from policy_engine.server import schemas, views
from policy_engine.server.auth import TokenCheck, read_token_file
from policy_engine.server.config import ServerConfig
from policy_engine.server.decision_log import DecisionSink, NullDecisionLog, open_decision_log
from policy_engine.server.encode import Encoder
from policy_engine.server.errors import ApiError, dumps, install as install_error_handlers, json_response, query_error_body
from policy_engine.server.errors import query_error_status
from policy_engine.server.limits import parse_json, read_body
from policy_engine.server.metrics import Metrics, MetricsMiddleware
from policy_engine.server.reload import PolicyHolder, ReloadResult, Served
from policy_engine.server.watch import FileWatcher

log = logging.getLogger("policy_engine.server")

JSON = "application/json"


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": schemas.ErrorBody} for status in statuses}


_ERRORS = _errors(400, 401, 403, 413, 422)  # a request with a body
_READ_ERRORS = _errors(401, 403)


class DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response itself: no dependency solving and
    no response validation on the hot path. It is documented in the OpenAPI document all the same."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


class ServerState:
    """Everything a handler needs, in one place (also reachable as `app.state.server`)."""

    def __init__(self, config: ServerConfig, policy: Any = None):
        self.config = config
        self.metrics = Metrics()
        self.holder = PolicyHolder(config.policy_path, policy, on_change=self._on_change)
        self.metrics.set_policy(self.holder.current.policy.name, self.holder.current.policy.digest)
        decide_tokens = read_token_file(config.token_file) if config.token_file else None
        admin_file = config.admin_token_file or config.token_file
        admin_tokens = read_token_file(admin_file) if admin_file else None
        if decide_tokens and admin_tokens:  # an admin may also ask questions
            decide_tokens = decide_tokens | admin_tokens
        self.decide_auth = TokenCheck(decide_tokens, required=False, scope="decision")
        self.admin_auth = TokenCheck(admin_tokens, required=True, scope="admin")
        self.encode = Encoder()
        self.log: DecisionSink = NullDecisionLog()
        self.watcher: FileWatcher | None = None

    def _on_change(self, served: Served) -> None:
        self.metrics.set_policy(served.policy.name, served.policy.digest)

    def reload(self, trigger: str) -> ReloadResult:
        result = self.holder.reload(trigger)
        self.metrics.reloads.labels(trigger, result.result).inc()
        return result

    def start(self) -> None:
        c = self.config
        self.log = open_decision_log(c.decision_log, batch_size=c.log_batch_size, flush_interval=c.log_flush_interval,
                                     on_flush=self.metrics.log_flushed.inc, on_drop=self.metrics.log_dropped.inc)
        if c.watch:
            self.watcher = FileWatcher(c.policy_path, lambda: self.reload("watch"), c.watch_interval).start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        pending = self.log.pending()
        self.log.close()
        if self.config.decision_log is not None:
            log.info("decision log: %d rows flushed in all (%d were pending at shutdown), %d dropped",
                     self.log.flushed, pending, self.log.dropped)


def _install_sighup(state: ServerState) -> bool:
    loop = asyncio.get_running_loop()

    def on_hup() -> None:
        loop.run_in_executor(None, state.reload, "SIGHUP")

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):  # not the main thread, or no SIGHUP
        return False
    return True


async def _wait_for_log(sink: DecisionSink) -> None:
    """The decision log is far behind: hold this answer back until the writer has caught up (to half
    the high-water mark, 10 s at most). Sustained overload then slows answers instead of losing
    log rows; below the mark, logging never waits."""
    deadline = time.monotonic() + 10.0
    low = sink.high_water // 2
    while sink.pending() > low and sink.healthy() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


def _decide(policy: Any, query: Any) -> Any:
    """One answer; a query the engine refuses raises its QueryError (a PolicyError)."""
    try:
        return policy.decide(query)
    except ValidationError as err:  # the engine should turn these into QueryErrors; belt and braces
        first = err.errors()[0] if err.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise ApiError(422, "query.wrong_type", str(first.get("msg", "invalid query")), field=field) from None


def create_app(config: ServerConfig, policy: Any = None) -> FastAPI:
    """The app. Loads the policy unless given one; raises PolicyError when it does not check."""
    state = ServerState(config, policy)
    metrics = state.metrics

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        hup = _install_sighup(state)
        served = state.holder.current
        log.info("serving %s (%s) from %s; decision log: %s; reload: POST /v1/admin/reload%s%s",
                 served.policy.name, served.policy.digest, config.policy_path,
                 {None: "off", "-": "stdout (JSON lines)"}.get(config.decision_log, config.decision_log),
                 ", SIGHUP" if hup else "", ", --watch" if config.watch else "")
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            state.stop()

    app = FastAPI(title="policy-engine decision API", version=__version__, lifespan=lifespan, redoc_url=None,
                  description="Answers the questions backend services ask before they touch personal data. "
                              "Every answer names the rules and the policy digest that decided it.")
    app.state.server = state
    install_error_handlers(app)
    router = APIRouter(route_class=DirectRoute)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    # ---- decisions ----------------------------------------------------------------------------
    @router.post("/v1/decide", tags=["decisions"], response_model=None,
              responses={200: {"model": Decision}, **_ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {
                  "$ref": "#/components/schemas/Query"}}}}})
    async def decide(request: Request) -> Response:
        """Answer one query (SPEC section 2)."""
        state.decide_auth.check(request)
        query = parse_json(await read_body(request, config.max_body_bytes), config.max_depth)
        served = state.holder.current
        start = time.perf_counter()
        try:
            decision = _decide(served.policy, query)
        except PolicyError as err:
            body = query_error_body(err)
            code = body["error"]["code"]
            metrics.query_errors.labels("/v1/decide", code).inc()
            request.state.decision = "error"
            return json_response(body, query_error_status(code))
        except ApiError as err:
            metrics.query_errors.labels("/v1/decide", err.code).inc()
            request.state.decision = "error"
            raise
        latency = time.perf_counter() - start
        enc = state.encode(decision)
        state.log.record(query, enc, latency)
        metrics.decisions.labels("/v1/decide", enc.label).inc()
        request.state.decision = enc.label
        if state.log.pending() > state.log.high_water:
            await _wait_for_log(state.log)
        return Response(enc.body, media_type=JSON)

    @router.post("/v1/decide/batch", tags=["decisions"], response_model=None,
              responses={200: {"content": {JSON: {"schema": {"$ref": "#/components/schemas/BatchAnswer"}}},
                               "description": "one answer or error object per query, in order"}, **_ERRORS},
              openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {
                  "$ref": "#/components/schemas/BatchRequest"}}}}})
    async def decide_batch(request: Request) -> Response:
        """Answer many queries: `{"queries": [...]}` -> `{"answers": [...]}`, in order. A bad query gets an
        error object in its slot; the batch still succeeds."""
        state.decide_auth.check(request)
        data = parse_json(await read_body(request, config.max_body_bytes), config.max_depth)
        queries = _batch_queries(data, config.max_batch)
        served = state.holder.current
        encode = state.encode
        parts: list[bytes] = []
        counts: Counter[str] = Counter()
        for query in queries:
            start = time.perf_counter()
            try:
                decision = _decide(served.policy, query)
            except PolicyError as err:
                body = query_error_body(err)
                metrics.query_errors.labels("/v1/decide/batch", body["error"]["code"]).inc()
                parts.append(dumps(body))
                continue
            except ApiError as err:
                metrics.query_errors.labels("/v1/decide/batch", err.code).inc()
                parts.append(dumps(err.body()))
                continue
            enc = encode(decision)
            state.log.record(query, enc, time.perf_counter() - start)
            counts[enc.label] += 1
            parts.append(enc.body)
        for label, n in counts.items():
            metrics.decisions.labels("/v1/decide/batch", label).inc(n)
        request.state.decision = "batch"
        if state.log.pending() > state.log.high_water:
            await _wait_for_log(state.log)
        return Response(b'{"answers":[' + b",".join(parts) + b"]}", media_type=JSON)

    # ---- the policy ---------------------------------------------------------------------------
    @router.get("/v1/policy", tags=["policy"], response_model=schemas.PolicyInfo, responses=_READ_ERRORS)
    async def policy_info(request: Request) -> Response:
        """The policy being served: name, digest, when it was loaded, counts of terms and rules."""
        state.decide_auth.check(request)
        return json_response(views.policy_info(state.holder.current, config))

    @router.get("/v1/terms", tags=["policy"], responses=_READ_ERRORS)
    async def terms(request: Request) -> Response:
        """The vocabulary: every declared term with its kind, label, parent and children."""
        state.decide_auth.check(request)
        return json_response(views.terms(state.holder.current))

    app.include_router(router)

    @app.get("/v1/map", tags=["policy"], responses=_errors(400, 401, 403, 422))
    async def data_map(request: Request,
                       data: str | None = QueryParam(None, description="a data term: what it may be used for, "
                                                                          "and who may receive it"),
                       source: str | None = QueryParam(None, description="narrow `data` to one source"),
                       recipient: str | None = QueryParam(None, description="which data reach this recipient"),
                       purpose: str | None = QueryParam(None, description="which rules cover this purpose"),
                       no_consent: bool = QueryParam(False, description="what the policy allows when no fact "
                                                                        "(consent, request, legal event) holds"),
                       facts: str | None = QueryParam(None, description="comma-separated facts that hold (closed "
                                                                        "world); absent: unknown")) -> Response:
        """The data map: the questions a data-protection officer asks of the policy."""
        state.decide_auth.check(request)
        served = state.holder.current
        body = await run_in_threadpool(views.data_map, served, data=data, source=source, recipient=recipient,
                                       purpose=purpose, no_consent=no_consent, facts=facts)
        return json_response(body)

    # ---- operations ---------------------------------------------------------------------------
    router = APIRouter(route_class=DirectRoute)

    @router.get("/healthz", tags=["operations"], response_model=schemas.Health)
    async def healthz(request: Request) -> Response:
        """The process is up."""
        return json_response({"status": "ok"})

    @router.get("/readyz", tags=["operations"], response_model=schemas.Ready,
             responses={503: {"model": schemas.Ready}})
    async def readyz(request: Request) -> Response:
        """Ready to answer: a policy is loaded and the decision log writer is running."""
        served = state.holder.current
        ok = state.log.healthy()
        body = {"status": "ready" if ok else "not_ready", "policy": served.summary,
                "decision_log": {"flushed": state.log.flushed, "pending": state.log.pending(),
                                 "dropped": state.log.dropped, "healthy": ok}}
        return json_response(body, 200 if ok else 503)

    @router.get("/metrics", tags=["operations"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics."""
        payload, content_type = metrics.exposition()
        return Response(payload, media_type=content_type)

    @router.post("/v1/admin/reload", tags=["admin"], response_model=schemas.ReloadAnswer,
              responses={**_ERRORS, 422: {"model": schemas.ErrorBody,
                                          "description": "the new version does not check; the old one still serves"}})
    async def admin_reload(request: Request) -> Response:
        """Reload the policy file the server was started with (no path is taken from the request).
        A version that fails to check keeps the old one serving; the diagnostics come back."""
        state.admin_auth.check(request)
        body = await read_body(request, 1024)
        if body.strip() not in (b"", b"{}"):
            raise ApiError(400, "request.unexpected_body", "reload takes no parameters: it reloads the file the "
                           "server was started with")
        result = await run_in_threadpool(state.reload, "api")
        if config.workers > 1 and result.result == "reloaded":
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

    app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            ref = "#/components/schemas/{model}"
            for model in (Query, Decision, schemas.ErrorBody):
                schema = model.model_json_schema(ref_template=ref)
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            components["BatchRequest"] = schemas.batch_request_schema("#/components/schemas/Query", config.max_batch)
            components["BatchAnswer"] = schemas.batch_answer_schema("#/components/schemas/Decision",
                                                                    "#/components/schemas/ErrorBody")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _batch_queries(data: Any, max_batch: int) -> list[Any]:
    if not isinstance(data, dict):
        raise ApiError(422, "query.wrong_type", 'a batch is a JSON object: {"queries": [...]}', field="queries")
    extra = sorted(k for k in data if k != "queries")
    if extra:
        raise ApiError(422, "query.unknown_field", f"a batch has one field, `queries`; unknown: {extra[0]}",
                       field=extra[0], suggestions=["queries"])
    if "queries" not in data:
        raise ApiError(422, "query.missing_field", 'a batch needs `queries`: {"queries": [...]}', field="queries")
    queries = data["queries"]
    if not isinstance(queries, list):
        raise ApiError(422, "query.wrong_type", "`queries` must be a list of query objects", field="queries")
    if len(queries) > max_batch:
        raise ApiError(413, "request.batch_too_large",
                       f"the batch holds {len(queries)} queries; at most {max_batch} are taken per request",
                       field="queries", extra={"limit": max_batch})
    return queries


def app_from_env() -> FastAPI:
    """The factory each `--workers N` process calls (uvicorn --factory); settings come from the env."""
    return create_app(ServerConfig.from_env())
