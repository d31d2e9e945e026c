"""The connections' timeouts (protocol.py) as deadlines checked by one periodic sweep.

Why: a timer handle per phase per request (arm for the headers, cancel and arm for the body,
cancel, arm for the idle wait) cost the event loop a heap push and a cancel three times a
request, about 7 µs, a fifth of what a decision costs. A deadline is a float the protocol sets
(`conn.deadline`, on the loop's clock; 0 for none) and this sweep reads: one timer for all the
server's connections, every quarter of the shortest timeout (at most a second, at least 50 ms),
so a timeout fires at most that much late. The sweep stops when the server has no connection and
starts again with the next one.
"""

from __future__ import annotations

import asyncio
from typing import Any

def interval(shortest: float) -> float:
    return min(1.0, max(0.05, shortest / 4))


def watch(loop: asyncio.AbstractEventLoop, server_state: Any, shortest: float) -> None:
    """Make sure a sweep runs over the connections of uvicorn's `server_state` (one per server: the
    sweep is kept on it); cheap when one does."""
    if getattr(server_state, "policy_engine_sweep", None) is not None:
        return
    every = interval(shortest)
    connections = server_state.connections

    def sweep() -> None:
        now = loop.time()
        for conn in tuple(connections):
            deadline = getattr(conn, "deadline", 0.0)
            if deadline and deadline <= now:
                conn.expire()
        server_state.policy_engine_sweep = loop.call_later(every, sweep) if connections else None

    server_state.policy_engine_sweep = loop.call_later(every, sweep)
