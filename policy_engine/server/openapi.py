"""The OpenAPI document: FastAPI's, plus the body schemas the handlers read and write by hand
(Query, Decision, the error shape, the batch shapes), built once on first request."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from policy_engine import Decision, Query
from policy_engine.server import schemas
from policy_engine.server.config import ServerConfig


def install(app: FastAPI, config: ServerConfig) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            ref = "#/components/schemas/{model}"
            for model in (Query, Decision, schemas.DecisionAnswer, schemas.ErrorBody):
                schema = model.model_json_schema(ref_template=ref)
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            components["BatchRequest"] = schemas.batch_request_schema("#/components/schemas/Query", config.max_batch)
            components["BatchAnswer"] = schemas.batch_answer_schema("#/components/schemas/DecisionAnswer",
                                                                    "#/components/schemas/ErrorBody")
            doc["components"]["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "a token from --token-file (decision and policy endpoints, when "
                                              "given) or --admin-token-file (admin endpoints, always)"}}
            for path, ops in doc.get("paths", {}).items():
                for op in ops.values():
                    if path.startswith("/v1/admin/"):
                        op["security"] = [{"bearerAuth": []}]
                    elif path.startswith("/v1/"):  # a token only when the server was started with --token-file
                        op["security"] = [{"bearerAuth": []}] if config.token_file else [{}, {"bearerAuth": []}]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
