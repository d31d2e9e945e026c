"""A direct answer (direct.py) whose decision-log call has to wait: finished in a task.

In audit mode an answer is sent only once its rows are committed, and in buffered mode a request
waits while the writer is far behind: `routes.decisions.record` awaits. By then the rows are handed
to the log and the ids taken, so the request cannot be given to the ASGI app any more. The
half-run `record` coroutine is resumed in a task (`Resumed`: the future it was waiting on is what
the task waits on next), and the answer (or the log's refusal, 503) is written once it returns. Until then the
connection has a request in flight, as with an ASGI task: a pipelined request behind it is queued
and started after (uvicorn's pipeline), so answers keep their order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Generator

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

from policy_engine.server.errors import ApiError, dumps

if TYPE_CHECKING:
    from policy_engine.server.protocol import GuardedHttpToolsProtocol

log = logging.getLogger("policy_engine.server")


class Resumed:
    """Awaiting this carries on a coroutine that has already yielded `first`."""

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any):
        self._coro, self._first = coro, first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self._coro, self._first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: B036  (a cancellation goes on into the coroutine)
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def start(protocol: GuardedHttpToolsProtocol, result: tuple[Any, Any, Callable[[], bytes], Any]) -> None:
    coro, first, respond, refuse = result
    cycle = RequestResponseCycle(scope=protocol.scope, transport=protocol.transport, flow=protocol.flow,
                                 logger=protocol.logger, access_logger=protocol.access_logger, access_log=False,
                                 default_headers=protocol.server_state.default_headers,
                                 message_event=asyncio.Event(), expect_100_continue=False, keep_alive=True,
                                 on_response=protocol.on_response_complete)
    cycle.more_body = False
    protocol.cycle = cycle
    task = protocol.loop.create_task(_finish(protocol, cycle, coro, first, respond, refuse))
    task.add_done_callback(protocol.tasks.discard)
    protocol.tasks.add(task)


async def _finish(protocol: GuardedHttpToolsProtocol, cycle: RequestResponseCycle, coro: Any, first: Any,
                  respond: Callable[[], bytes], refuse: Callable[[ApiError], bytes]) -> None:
    try:
        await Resumed(coro, first)
        out = respond()
    except ApiError as err:  # the log refused the rows (audit mode: full, failed, closing)
        out = refuse(err)
    except Exception:
        log.exception("internal error answering a decision request")
        out = _error(500, dumps({"error": {"code": "internal", "message": "internal error; it has been logged",
                                           "field": None, "suggestions": []}}), {},
                     protocol.server_state.default_headers)
    if not cycle.disconnected and not protocol.transport.is_closing():
        protocol.transport.write(out)
        if not cycle.keep_alive:  # the server is shutting down (uvicorn's shutdown() asked for it)
            protocol.transport.close()
    cycle.response_complete = True
    cycle.message_event.set()
    cycle.on_response()


def _error(status: int, body: bytes, headers: dict[str, str], default_headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [STATUS_LINE[status], *(n + b": " + v + b"\r\n" for n, v in default_headers),
             b"content-type: application/json\r\n",
             *(k.lower().encode("latin-1") + b": " + v.encode("latin-1") + b"\r\n" for k, v in headers.items()),
             b"content-length: %d\r\n\r\n" % len(body), body]
    return b"".join(lines)
