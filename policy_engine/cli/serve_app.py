"""The app `serve` runs: the decision API (server.app) with the playground (playground.serving)
and, with `--log-format json --access-log`, the JSON access log (server.logs). One place for
both the single process and the factory each `--workers N` process calls (it reads the same
ServerConfig from the environment), so every worker serves the same app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy
    from policy_engine.server.config import ServerConfig


def build(config: ServerConfig, policy: Policy | None = None) -> Any:
    from policy_engine.playground.serving import with_playground
    from policy_engine.server.app import create_app
    from policy_engine.server.logs import install_access_log

    return install_access_log(with_playground(create_app(config, policy)), config.log_format, config.access_log)


def app_from_env() -> Any:
    """uvicorn's factory in each worker process (`policy_engine.cli.serve_app:app_from_env`)."""
    from policy_engine.server.config import ServerConfig

    return build(ServerConfig.from_env())
