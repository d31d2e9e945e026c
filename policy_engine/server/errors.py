"""Error answers. Every error the server sends has one shape:

    {"error": {"code": "...", "message": "...", "field": "..." | null, "suggestions": [...]}}

Codes are stable: `query.*` (the engine's query errors), `request.*` (the HTTP request itself:
size, nesting, batch count, routing), `auth.*`, `reload.*`, `internal` (a bug: logged).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from policy_engine.language.diagnostics import PolicyError

log = logging.getLogger("policy_engine.server")


class ApiError(Exception):
    """Raised anywhere in a handler; rendered by the handler installed in `install`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 suggestions: list[str] | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.suggestions = list(suggestions or [])
        self.headers = headers
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field,
                          "suggestions": self.suggestions, **self.extra}}


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type="application/json")


def query_error_body(err: PolicyError) -> dict[str, Any]:
    """A QueryError (or any PolicyError met while answering) -> the error object, four keys at least."""
    to_dict = getattr(err, "to_dict", None)
    body = to_dict() if callable(to_dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        first = err.diagnostics[0] if getattr(err, "diagnostics", None) else None
        body = {"error": {"code": getattr(err, "code", "query.invalid"),
                          "message": first.message if first is not None else str(err)}}
    inner = body["error"]
    inner.setdefault("code", getattr(err, "code", "query.invalid"))
    inner.setdefault("message", str(err))
    inner.setdefault("field", getattr(err, "field", None))
    inner.setdefault("suggestions", list(getattr(err, "suggestions", None) or []))
    return body


def query_error_status(code: str) -> int:
    """Unparseable JSON is a 400; a well-formed query the policy cannot answer is a 422."""
    return 400 if code in ("query.invalid_json",) else 422


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.body(), exc.status, exc.headers)


_HTTP_CODES = {404: ("request.not_found", "no such endpoint; see /openapi.json"),
               405: ("request.method_not_allowed", "this endpoint does not take that method")}


async def _policy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PolicyError)
    body = query_error_body(exc)
    return json_response(body, query_error_status(body["error"]["code"]))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, (f"request.http_{exc.status_code}", str(exc.detail)))
    body = {"error": {"code": code, "message": message, "field": None, "suggestions": []}}
    return json_response(body, exc.status_code, getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path", "header")]
    body = {"error": {"code": "request.invalid_parameter", "message": str(first.get("msg", "invalid request")),
                      "field": ".".join(loc) or None, "suggestions": []}}
    return json_response(body, 422)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A bug in the server: log it with its traceback (tests look for these), answer in the same shape.
    log.exception("internal error answering %s %s", request.method, request.url.path)
    body = {"error": {"code": "internal", "message": "internal error; it has been logged",
                      "field": None, "suggestions": []}}
    return json_response(body, 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PolicyError, _policy_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
