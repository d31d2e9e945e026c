"""The decision server with the playground at `/playground`, for `policy-engine serve`.

The layers keep the server and the guardrails apart (pyproject's import contract), and the
playground uses both (the semantic diff is a guardrail), so the server cannot mount it: the
outer layer composes them here, for one process (`with_playground`) and for each `--workers`
process (`app_from_env`, the factory uvicorn calls).
"""

from __future__ import annotations

from fastapi import FastAPI

from policy_engine.playground.app import mount


def with_playground(app: FastAPI) -> FastAPI:
    """`app` (made by server.app.create_app) with the playground of the policy it serves, unless
    the server asks for tokens: the page takes none, and a server guarded by tokens is not one
    to offer anybody an endpoint that checks (and costs CPU for) any text sent to it."""
    config = app.state.server.config
    if config.token_file is None:
        mount(app, config.policy_path)
    return app


def app_from_env() -> FastAPI:
    from policy_engine.server.app import app_from_env as server_app

    return with_playground(server_app())
