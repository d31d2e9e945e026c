"""The decision API service (issue 4): `policy-engine serve POLICY`.

One job per module:
    config.py        ServerConfig: the settings `serve` passes to the app (and to each worker)
    settings.py      serve's options defined once: flags, POLICY_ENGINE_* variables, the TOML file, the docs
    logs.py          the logging config uvicorn gets; --log-format json and its access log
    tls.py           the certificate and key checked before the server starts
    app.py           create_app(config) -> FastAPI: lifespan, middleware, the routers
    state.py         ServerState: what every handler reads (policy holder, auth, decider, log, metrics)
    routes/          the endpoints: decisions, policy views, operations, admin
    deciding.py      the one path from queries to answers: memo inline, the rest on a pool, a time budget
    openapi.py       the OpenAPI document
    views.py         /v1/policy, /v1/terms, /v1/map as JSON
    errors.py        the one error shape {"error": {code, message, field, suggestions}}
    limits.py        body size, JSON nesting depth, JSON syntax
    protocol.py      connection hygiene: timeouts, header size and count, a connection cap
    direct.py        the decision endpoints answered inside the protocol (memo hits), no ASGI
    writes.py        those answers written at the end of the loop turn, one write per connection
    timers.py        the connection timeouts as deadlines read by one sweep
    deferred.py      a direct answer whose log call waited, finished in a task
    fastpath.py      the decision endpoints in plain ASGI, before the framework
    auth.py          bearer tokens for the decision and admin endpoints
    encode.py        Decision -> answer bytes and log fields, memoised per Decision
    log_writer.py    the decision log's queue and writer thread: buffered or audit (group commit)
    decision_log.py  its targets: SQLite (WAL, 0600) or JSON lines
    log_query.py     reading the decision log (`policy-engine log`)
    metrics.py       Prometheus metrics and the timing middleware
    reload.py        PolicyHolder: read a stable file, swap in a new version only when it checks
    watch.py         --watch: poll the policy file, reload on change
    schemas.py       body shapes for the OpenAPI document

Importing this package is cheap (the CLI does it on every run); the app and its web stack are
imported by `serve` only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "ServerConfig"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from policy_engine.server.app import create_app

        return create_app
    if name == "ServerConfig":
        from policy_engine.server.config import ServerConfig

        return ServerConfig
    raise AttributeError(name)
