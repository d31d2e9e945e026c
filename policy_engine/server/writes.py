"""The direct answers (direct.py) of one event-loop turn, written at its end.

Why: measured on loopback, writing each answer the moment it was made (read a request, answer,
send; read the next, ...) cost more in the send system call than everything else the server did
for the request (13 µs a send), as each send woke the client for one answer. The ASGI path reads
every ready connection first and writes from its tasks after, and so does this: the protocol
queues its answer bytes on itself (`queue`) and one callback at the end of the turn writes every
connection's (`flush`). Measured: 40 -> 26 µs of server CPU a decision.

Order is kept per connection: the answers queued on one connection go out in one write, in the
order they were made, before anything else is written to it (the protocol flushes its own queue
before any other write or close of its own), and an ASGI task started on the connection after a
queued answer runs after this turn's flush (tasks start from the same queue of callbacks).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

# the loop -> the protocols with answers queued this turn (weak: a loop closed before its turn ended
# takes its entry with it)
_waiting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]] = weakref.WeakKeyDictionary()


def queue(loop: asyncio.AbstractEventLoop, conn: Any, data: bytes) -> None:
    """Queue `data` on `conn` (its `unsent` list) to be written at the end of this loop turn."""
    if conn.unsent:
        conn.unsent.append(data)
        return
    conn.unsent.append(data)
    waiting = _waiting.get(loop)
    if waiting is None:
        waiting = _waiting[loop] = []
        loop.call_soon(_flush_all, loop)
    waiting.append(conn)


def _flush_all(loop: asyncio.AbstractEventLoop) -> None:
    for conn in _waiting.pop(loop, ()):
        flush(conn)


def flush(conn: Any) -> None:
    """Write what is queued on `conn` now (before another write or a close of its own)."""
    unsent = conn.unsent
    if not unsent:
        return
    data = unsent[0] if len(unsent) == 1 else b"".join(unsent)
    unsent.clear()
    if not conn.transport.is_closing():
        conn.transport.write(data)
