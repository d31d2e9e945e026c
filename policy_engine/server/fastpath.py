"""The decision endpoints' front door: `POST /v1/decide` and `POST /v1/decide/batch` answered in
plain ASGI, before the framework.

Why: measured per request, FastAPI's stack (its telemetry and body-limit layers, exception
middleware, routing, Request objects, our four middlewares) cost several times what deciding
does; a service asking one question at a time paid mostly for the framework. This path does the
same work in one pass over the headers (auth, X-Request-ID, traceparent, If-None-Match,
Accept-Encoding), reads the body within the limit, and calls the same functions as the FastAPI
routes (`routes/decisions.single` and `.batch`), so the answers, errors, log rows and metrics are
the same. The FastAPI routes stay: they are what the OpenAPI document describes, and they answer
what this path leaves to them (no Content-Length, a chunked body, more headers than the limit):
the request is handed over before anything is read from it. With a middleware added after
create_app (the JSON access log) every request takes the framework's path (app.DecisionApp).

Before this, the HTTP protocol answers a question the server has already answered without any
ASGI at all (direct.py, with the same bytes); what it does not answer arrives here.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from policy_engine.server.correlation import correlate
from policy_engine.server.errors import ApiError, dumps
from policy_engine.server.limits import _too_large
from policy_engine.server.routes import decisions

if TYPE_CHECKING:
    from policy_engine.server.state import ServerState

log = logging.getLogger("policy_engine.server")

GZIP_MIN_BYTES = 1400  # about one TCP segment: below it compressing saves no round trip
GZIP_LEVEL = 5  # most of level 9's ratio on repetitive JSON, at a fraction of its CPU
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Accept-Encoding")
_INTERNAL = dumps({"error": {"code": "internal", "message": "internal error; it has been logged", "field": None,
                             "suggestions": []}})

Send = Callable[[dict[str, Any]], Awaitable[None]]


def gzip_body(body: bytes) -> bytes:
    z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip container
    return z.compress(body) + z.flush()


async def serve(state: ServerState, scope: dict[str, Any], receive: Any, send: Send) -> bool:
    """Answer the request and return True, or return False having read nothing (the framework answers)."""
    path = scope["path"]
    if scope["method"] != "POST" or (path != "/v1/decide" and path != "/v1/decide/batch"):
        return False
    headers = scope["headers"]
    config = state.config
    if len(headers) > config.max_headers:
        return False
    length = auth = if_none_match = None
    gzip_ok = False
    for name, value in headers:
        if name == b"content-length":
            length = value
        elif name == b"authorization":
            auth = value
        elif name == b"if-none-match":
            if_none_match = value
        elif name == b"accept-encoding":
            gzip_ok = b"gzip" in value.lower()
        elif name == b"transfer-encoding":
            return False
    if length is None or not length.isdigit():
        return False
    start = time.perf_counter()
    request_id, traceparent = correlate(headers)
    extra = [(b"x-request-id", request_id)]
    if traceparent is not None:
        extra.append((b"traceparent", traceparent))
    tp = traceparent.decode() if traceparent is not None else None
    status, decision = 500, "error"
    try:
        try:
            authorization = None if auth is None else auth.decode("latin-1")
            state.decide_auth.check_header(authorization)
            body = await _read(receive, int(length), config.max_body_bytes)
            if path == "/v1/decide":
                reply = await decisions.single(state, body, tp, None if if_none_match is None
                                               else if_none_match.decode("latin-1"), authorization)
            else:
                decision = "batch"
                reply = await decisions.batch(state, body, tp, authorization)
        except ApiError as err:
            status = err.status
            out = [_JSON, *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (err.headers or {}).items()),
                   *extra]
            await _send(send, status, out, dumps(err.body()))
            return True
        status, decision, payload = reply.status, reply.decision, reply.body
        out = [*reply.headers, *extra]
        if status != 304:
            out.append(_JSON)
            if len(payload) >= GZIP_MIN_BYTES:
                out.append(_VARY)
                if gzip_ok:
                    payload = gzip_body(payload)
                    out.append((b"content-encoding", b"gzip"))
        await _send(send, status, out, payload)
        return True
    except Exception:  # a bug: logged with its traceback, answered in the error shape
        log.exception("internal error answering POST %s", path)
        status = 500
        await _send(send, 500, [_JSON, *extra], _INTERNAL)
        return True
    finally:
        state.metrics.observe_request(path, "POST", status, decision, time.perf_counter() - start)


async def _read(receive: Any, declared: int, limit: int) -> bytes:
    if declared > limit:
        raise _too_large(limit)
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "request.disconnected", "the client went away before sending the whole body")
        body += message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return body


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status != 304:
        headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
