"""Request correlation: `X-Request-ID` and W3C `traceparent`.

A caller's `X-Request-ID` (printable ASCII, at most 128 characters) is echoed on the response;
without one (or with an unusable one) the server makes one up, so every answer can be tied to a
log line. A valid `traceparent` (version-traceid-parentid-flags, lowercase hex) is echoed too,
so a tracing proxy sees the hop, and written into the decision-log rows of the request; a
malformed one (or version ff, all-zero ids) is ignored, as the W3C spec asks. Both are kept
in `scope["state"]` for the handlers and the access log.
"""

from __future__ import annotations

import re
from typing import Any

from policy_engine.server.ids import RANDOM

_REQUEST_ID = re.compile(rb"^[\x21-\x7e]{1,128}$")
_TRACEPARENT = re.compile(rb"^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def correlate(headers: Any) -> tuple[bytes, bytes | None]:
    """(the request id to echo, the valid traceparent or None) from the raw ASGI headers."""
    request_id = traceparent = None
    for name, value in headers:
        if name == b"x-request-id" and _REQUEST_ID.match(value):
            request_id = value
        elif name == b"traceparent":
            traceparent = valid_traceparent(value) or traceparent
    return request_id or made_request_id(), traceparent


def valid_request_id(value: bytes) -> bytes | None:
    return value if _REQUEST_ID.match(value) else None


def valid_traceparent(value: bytes) -> bytes | None:
    """The header's value as echoed and logged (trimmed, lowercase) when it is a valid one."""
    value = value.strip().lower()
    return value if _TRACEPARENT.match(value) else None


def made_request_id() -> bytes:
    return RANDOM.take(16).hex().encode()


class Correlation:
    """Pure ASGI middleware (no per-request allocation beyond the two headers)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, traceparent = correlate(scope.get("headers", ()))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id.decode()
        if traceparent is not None:
            state["traceparent"] = traceparent.decode()
        extra = [(b"x-request-id", request_id)] + ([(b"traceparent", traceparent)] if traceparent else [])

        async def send_with_ids(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_ids)
