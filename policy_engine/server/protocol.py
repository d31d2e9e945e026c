"""Connection hygiene: the HTTP protocol uvicorn runs (httptools), with the limits it lacks.

uvicorn closes a keep-alive connection after `timeout_keep_alive` once it has answered, but a
connection that never sends a request, or sends one byte at a time, is kept forever, and
headers are buffered without a bound (20 clients streaming 50 MB headers took a server to a
gigabyte). This subclass adds, per connection:

* an idle timeout (`keep_alive_timeout`) from the moment it opens and after each answer, that
  stray bytes between requests do not reset;
* a header timeout (`header_timeout`) from the request's first byte to the end of its headers:
  408 and close (slowloris);
* a body timeout (`body_timeout`) from the end of the headers to the end of the body: close;
* a cap on the bytes of the request line and headers (`max_header_bytes`), counted before
  they reach the parser: 431 and close;
* a cap on open connections (`max_connections`): a connection beyond it gets 503 and is
  closed at once, before it costs more than a descriptor for a moment.

The timeouts are deadlines one sweep reads (timers.py), not a timer handle per phase. And it
answers the decision endpoints itself when it can (direct.py: a question the server has already
answered, in one write at the end of the loop turn, writes.py), handing everything else to the
ASGI app as uvicorn does.

The header count (`max_headers`) is checked by `HeaderCountLimit`, an ASGI middleware (the
parser has already bounded their total size by then). The limits come from the ServerConfig
given to `configure` (one worker) or from the environment (each `--workers N` process).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from policy_engine.server import deferred, direct, timers, writes
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


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
            503: b"Service Unavailable"}


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
        # The running timer: a deadline on the loop's clock (0: none), checked by the sweep
        # (timers.py), the phase it bounds and its length, for the log line.
        self.deadline = 0.0
        self._phase = ""
        self._phase_s = 0.0
        self._in_headers = True  # the next bytes belong to a request line or headers
        self._header_bytes = 0
        self._tail = b""  # the last bytes seen in the header phase, to find a \r\n\r\n split over two reads
        self._rejected = False
        # Answering the decision endpoints in the protocol (direct.py): the app's state, or None.
        self._direct_state = direct.state_for(self.app)
        self._direct_path: bytes | None = None  # the request being collected for direct.answer
        self._parts: list[bytes] = []
        self._draining = False  # the server is shutting down: hand the request over, answered with close
        self.unsent: list[bytes] = []  # direct answers queued for the end of the loop turn (writes.py)

    # ---- timers -------------------------------------------------------------------------------
    def _arm(self, seconds: float, phase: str) -> None:
        self.deadline = self.loop.time() + seconds
        self._phase, self._phase_s = phase, seconds

    def _disarm(self) -> None:
        self.deadline = 0.0

    def expire(self) -> None:
        """Called by the sweep once the deadline has passed."""
        self.deadline = 0.0
        phase, seconds = self._phase, self._phase_s
        if self.transport.is_closing():
            return
        if phase == "headers" and (self.cycle is None or self.cycle.response_complete):
            self._reject(408, "request.header_timeout", f"the request's headers did not arrive within {seconds:g} s")
            return
        log.info("closing a connection from %s: %s not received within %g s", _peer(self.client), phase, seconds)
        writes.flush(self)
        self.transport.close()

    def _reject(self, status: int, code: str, message: str) -> None:
        writes.flush(self)
        self._rejected = True
        self._disarm()
        log.info("closing a connection from %s: %d %s", _peer(self.client), status, message)
        self.transport.write(error_response(status, code, message,
                                            b"retry-after: 1\r\n" if status == 503 else b""))
        self.transport.close()

    # ---- protocol events ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        timers.watch(self.loop, self.server_state, min(self._idle_s, self._header_s, self._body_s))
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
        if self._direct_state is not None and self._can_answer():  # a POST with a body: its timer
            self._arm(self._body_s, "the request body")
            self._direct_path, self._parts = self.url, []
            return
        self._disarm()
        if self.parser.get_method() not in (b"GET", b"HEAD") or any(
                name in (b"content-length", b"transfer-encoding") for name, _ in self.headers):
            self._arm(self._body_s, "the request body")
        super().on_headers_complete()

    def _can_answer(self) -> bool:
        """Whether this request may be answered by direct.py: a decision endpoint, HTTP/1.1 keep-alive,
        nothing in flight before it, a plain Content-Length body (direct.content_length)."""
        url = self.url
        if url != direct.SINGLE and url != direct.BATCH:
            return False
        parser = self.parser
        if (parser.get_method() != b"POST" or parser.get_http_version() != "1.1" or not parser.should_keep_alive()
                or parser.should_upgrade() or self.pipeline or self.access_log or self.limit_concurrency is not None
                or self.flow.write_paused  # a client not reading its answers: the ASGI path waits for it
                or (self.cycle is not None and not self.cycle.response_complete)):
            return False
        c = self._direct_state.config  # type: ignore[union-attr]
        return direct.content_length(self.headers, c.max_headers, c.max_body_bytes) is not None

    def on_body(self, body: bytes) -> None:
        if self._direct_path is not None:
            self._parts.append(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_headers, self._header_bytes, self._tail = True, 0, b""
        path = self._direct_path
        if path is None:
            super().on_message_complete()
            return
        self._direct_path = None
        parts, self._parts = self._parts, []
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        if self._draining:  # the server is shutting down: the ASGI path answers with `connection: close`
            self._hand_over(body)
            self.cycle.keep_alive = False
            return
        try:
            result = direct.answer(self._direct_state, path, self.headers, body,  # type: ignore[arg-type]
                                   self.server_state.default_headers)
        except Exception:  # a bug: logged with its traceback, answered in the error shape
            log.exception("internal error answering POST %s", path.decode())
            writes.flush(self)
            self.transport.write(error_response(500, "internal", "internal error; it has been logged"))
            self.transport.close()
            return
        if result is None:
            self._hand_over(body)
        elif type(result) is bytes:
            writes.queue(self.loop, self, result)  # written at the end of this loop turn (writes.py)
            self._answered()
        else:
            deferred.start(self, result)  # type: ignore[arg-type]

    def _hand_over(self, body: bytes) -> None:
        """The request to the ASGI app, as uvicorn would have started it, with its body already read."""
        super().on_headers_complete()
        self.cycle.body += body
        self.cycle.more_body = False
        self.cycle.message_event.set()

    def _answered(self) -> None:
        self.server_state.total_requests += 1
        if not self.transport.is_closing() and self._in_headers and self._header_bytes == 0:
            self._arm(self._idle_s, "a request")

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: a request whose body is being read for direct.py is in flight;
        answers queued are sent before the connection is closed."""
        if self._direct_path is not None:
            self._draining = True
            return
        writes.flush(self)
        super().shutdown()

    def send_400_response(self, msg: str) -> None:  # uvicorn's, for a request the parser refuses
        writes.flush(self)
        super().send_400_response(msg)

    def on_response_complete(self) -> None:
        # uvicorn's, without its keep-alive timer (the idle deadline above is the same timeout)
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._in_headers and self._header_bytes == 0:
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
