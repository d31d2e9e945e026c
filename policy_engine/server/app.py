"""The ASGI app: `create_app(config) -> FastAPI`. In: a ServerConfig (and optionally a policy
already loaded by the CLI). Out: the decision API over the same engine as the library.

The endpoints live in `routes/` (decisions, policy views, operations, admin) and read one typed
`ServerState`. Each handler reads the served policy once (`state.served`) and answers from it,
so a reload never splits a request across two versions.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from policy_engine import __version__
from policy_engine.server import direct, docs, fastpath, openapi
from policy_engine.server.fastpath import GZIP_LEVEL, GZIP_MIN_BYTES
from policy_engine.server.config import ServerConfig
from policy_engine.server.correlation import Correlation
from policy_engine.server.errors import install as install_error_handlers
from policy_engine.server.metrics import MetricsMiddleware
from policy_engine.server.protocol import HeaderCountLimit
from policy_engine.server.routes import admin, decisions, explain, operations, policy as policy_routes, rights
from policy_engine.server.routes import subjects as subject_routes
from policy_engine.server.state import ServerState

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy

log = logging.getLogger("policy_engine.server")


class DecisionApp(FastAPI):
    """FastAPI, with the decision endpoints answered first by fastpath.py (same answers, without the
    framework's per-request cost); every other request, and any the fast path leaves, goes through
    FastAPI as usual. A middleware added after create_app (the JSON access log, logs.py) must see
    every request, so once there is one the fast path stands aside."""

    own_middleware = 0  # how many create_app added
    direct_state: ServerState | None = None  # set at lifespan start when the protocol may answer (direct.py)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (scope["type"] == "http" and len(self.user_middleware) == self.own_middleware
                and await fastpath.serve(self.state.server, scope, receive, send)):
            return
        await super().__call__(scope, receive, send)


def _install_sighup(state: ServerState) -> bool:
    loop = asyncio.get_running_loop()

    def on_hup() -> None:
        loop.run_in_executor(None, state.reload, "SIGHUP")

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):  # not the main thread, or no SIGHUP
        return False
    return True


def create_app(config: ServerConfig, policy: Policy | None = None) -> FastAPI:
    """The app. Loads the policy unless given one; raises PolicyError when it does not check."""
    state = ServerState(config, policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        direct.attach(app, state)
        hup = _install_sighup(state)
        served = state.served
        log.info("serving %s (%s) from %s; decision log: %s; reload: POST /v1/admin/reload%s%s",
                 served.policy.name, served.policy.digest, config.policy_path,
                 {None: "off", "-": "stdout (JSON lines)"}.get(config.decision_log, config.decision_log),
                 ", SIGHUP" if hup else "", ", --watch" if config.watch else "")
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            direct.detach(app)
            state.stop()

    app = DecisionApp(title="policy-engine decision API", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Answers the questions backend services ask before they touch personal data. "
                              "Every answer names the rules and the policy digest that decided it.")
    app.state.server = state
    install_error_handlers(app)
    # gzip when the client accepts it and the body is large (the data map, the terms, the OpenAPI
    # document; fastpath.py does the same for the decision endpoints); a single answer is below the
    # threshold and pays nothing. Bodies over 128 KiB compress on a thread.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_middleware(Correlation)
    app.add_middleware(HeaderCountLimit, limit=config.max_headers)
    for router in (decisions.router, explain.router, policy_routes.router, policy_routes.params, operations.router,
                   admin.router):
        app.include_router(router)
    app.include_router(rights.router)
    app.include_router(subject_routes.router_for(state))
    openapi.install(app, config)
    docs.install(app)
    app.own_middleware = len(app.user_middleware)
    return app


def app_from_env() -> FastAPI:
    """The factory each `--workers N` process calls (uvicorn --factory); settings come from the env."""
    return create_app(ServerConfig.from_env())
