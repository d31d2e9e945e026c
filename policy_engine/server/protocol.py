"""Connection hygiene: the HTTP protocol uvicorn runs (httptools), with the limits it lacks.

uvicorn closes a keep-alive connection after `timeout_keep_alive` once it has answered, but a
connection that never sends a request, or sends one byte at a time, is kept forever, and
headers are buffered without a bound (20 clients streaming 50 MB headers took a server to a
gigabyte). This subclass adds, per connection:

* an idle timer (`keep_alive_timeout`) from the moment it opens and after each answer, that
  stray bytes between requests do not reset;
* a header timer (`header_timeout`) from the request's first byte to the end of its headers:
  408 and close (slowloris);
* a body timer (`body_timeout`) from the end of the headers to the end of the body: close;
* a cap on the bytes of the request line and headers (`max_header_bytes`), counted before
  they reach the parser: 431 and close;
* a cap on open connections (`max_connections`): a connection beyond it gets 503 and is
  closed at once, before it costs more than a descriptor for a moment.

The header count (`max_headers`) is checked by `HeaderCountLimit`, an ASGI middleware (the
parser has already bounded their total size by then). The limits come from the ServerConfig
given to `configure` (one worker) or from the environment (each `--workers N` process).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from policy_engine.server.config import ENV_VAR, ServerConfig
from policy_engine.server.errors import dumps

log = logging.getLogger("policy_engine.server")

_config: ServerConfig | None = None


def configure(config: ServerConfig) -> None:
    global _config
    _config = config


def _limits() -> ServerConfig:
    global _config
    if _config is None:
        import os

        _config = ServerConfig.from_env() if os.environ.get(ENV_VAR) else ServerConfig(policy_path="")
    return _config


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


def error_response(status: int, code: str, message: str, extra_headers: bytes = b"") -> bytes:
    """A complete HTTP/1.1 response in the server's error shape, with `connection: close`."""
    body = dumps({"error": {"code": code, "message": message, "field": None, "suggestions": []}})
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n"
            % (status, _REASONS[status], len(body)) + extra_headers + b"\r\n" + body)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        c = _limits()
        self._max_connections = c.max_connections
        self._idle_s = c.keep_alive_timeout
        self._header_s = c.header_timeout
        self._body_s = c.body_timeout
        self._max_header_bytes = c.max_header_bytes
        self._timer: asyncio.TimerHandle | None = None
        self._in_headers = True  # the next bytes belong to a request line or headers
        self._header_bytes = 0
        self._tail = b""  # the last bytes seen in the header phase, to find a \r\n\r\n split over two reads
        self._rejected = False

    # ---- timers -------------------------------------------------------------------------------
    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, phase, seconds)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, phase: str, seconds: float) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if phase == "headers" and (self.cycle is None or self.cycle.response_complete):
            self._reject(408, "request.header_timeout", f"the request's headers did not arrive within {seconds:g} s")
            return
        log.info("closing a connection from %s: %s not received within %g s", _peer(self.client), phase, seconds)
        self.transport.close()

    def _reject(self, status: int, code: str, message: str) -> None:
        self._rejected = True
        self._disarm()
        log.info("closing a connection from %s: %d %s", _peer(self.client), status, message)
        self.transport.write(error_response(status, code, message,
                                            b"retry-after: 1\r\n" if status == 503 else b""))
        self.transport.close()

    # ---- protocol events ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            self._reject(503, "request.too_many_connections",
                         f"the server has {self._max_connections} connections open, its limit; retry shortly")
            return
        self._arm(self._idle_s, "a request")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        if self._in_headers:
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = seen[-3:]
            if self._header_bytes > self._max_header_bytes:
                self._reject(431, "request.headers_too_large",
                             f"the request line and headers are over the limit of {self._max_header_bytes} bytes")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self._header_s, "headers")

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        if self.parser.get_method() not in (b"GET", b"HEAD") or any(
                name in (b"content-length", b"transfer-encoding") for name, _ in self.headers):
            self._arm(self._body_s, "the request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_headers, self._header_bytes, self._tail = True, 0, b""
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._in_headers and self._header_bytes == 0:
            self._arm(self._idle_s, "a request")


def _peer(client: tuple[str, int] | None) -> str:
    return "%s:%d" % client if client else "a client"


class HeaderCountLimit:
    """ASGI middleware: a request with more than `limit` header lines gets 431."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and len(scope.get("headers", ())) > self.limit:
            body = dumps({"error": {"code": "request.too_many_headers",
                                    "message": f"the request has {len(scope['headers'])} header lines; at most "
                                               f"{self.limit} are taken", "field": None, "suggestions": []}})
            await send({"type": "http.response.start", "status": 431,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
