"""The protocol's own part (server/protocol.py, direct.py, timers.py) in process, over a transport
that records what is written: a memo hit is answered with no ASGI task, the answers of one loop
turn in one write per connection at its end (writes.py); anything
else starts a task, as uvicorn does; a deadline passed is acted on by the sweep (408 for headers
that never end). The loopback tests (test_direct.py, test_connections.py) show the same from
outside; these show which path answered."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState as UvicornState

from paths import REPO
from policy_engine.server import direct, protocol
from policy_engine.server.app import create_app
from policy_engine.server.config import ServerConfig

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


async def _setup(**limits: Any) -> tuple[Any, Any, Config, UvicornState]:
    here = os.getcwd()
    os.chdir(REPO)
    try:
        cfg = ServerConfig(policy_path="policies/open_e.policy", decision_log=None, **limits)
        app = create_app(cfg)
    finally:
        os.chdir(here)
    protocol.configure(cfg)
    state = app.state.server
    state.start()
    direct.attach(app, state)
    config = Config(app, http=protocol.GuardedHttpToolsProtocol, lifespan="off", access_log=False)
    config.load()
    return app, state, config, UvicornState()


def _connection(config: Config, uvicorn_state: UvicornState) -> tuple[Any, Recorder]:
    conn = protocol.GuardedHttpToolsProtocol(config, uvicorn_state, {}, asyncio.get_running_loop())
    transport = Recorder()
    conn.connection_made(transport)
    return conn, transport


async def _settle(uvicorn_state: UvicornState) -> None:
    for _ in range(200):  # bounded: the handed-over task finishes in a few loop turns
        if not uvicorn_state.tasks:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the ASGI task did not finish")


def test_a_memo_hit_is_one_write_without_a_task_and_a_miss_is_handed_to_the_app() -> None:
    async def run() -> None:
        app, state, config, uvicorn_state = await _setup()
        try:
            conn, transport = _connection(config, uvicorn_state)
            conn.data_received(post("/v1/decide", json.dumps(Q).encode()))  # a miss: the ASGI app answers
            assert uvicorn_state.tasks, "a memo miss is answered by an ASGI task"
            await _settle(uvicorn_state)
            assert len(transport.writes) == 2 and transport.writes[0].startswith(b"HTTP/1.1 200 ")  # head, body
            transport.writes.clear()
            conn.data_received(post("/v1/decide", json.dumps(Q).encode()) * 2)  # now hits, pipelined
            assert not uvicorn_state.tasks and not transport.writes  # queued for the end of the loop turn
            await asyncio.sleep(0)
            assert not uvicorn_state.tasks and len(transport.writes) == 1  # both answers, in one write
            answers = transport.writes[0].split(b"HTTP/1.1 ")[1:]
            assert len(answers) == 2
            for raw in answers:
                head, _, body = raw.partition(b"\r\n\r\n")
                assert head.startswith(b"200 OK\r\n") and json.loads(body)["decision"] == "deny"
            first, second = (json.loads(w.partition(b"\r\n\r\n")[2])["decision_id"] for w in answers)
            assert first < second  # ids increase
            assert uvicorn_state.total_requests == 3
            transport.writes.clear()
            conn.data_received(post("/v1/decide", b"{"))  # an error answer: the app's
            assert uvicorn_state.tasks
            await _settle(uvicorn_state)
            assert b"query.invalid_json" in b"".join(transport.writes)
        finally:
            direct.detach(app)
            state.stop()

    asyncio.run(run())


def test_an_app_with_a_middleware_added_after_create_app_is_never_answered_in_the_protocol() -> None:
    async def run() -> None:
        here = os.getcwd()
        os.chdir(REPO)
        try:
            app = create_app(ServerConfig(policy_path="policies/open_e.policy", decision_log=None))
        finally:
            os.chdir(here)
        app.add_middleware(type("Outer", (), {"__init__": lambda self, app: setattr(self, "app", app)}))
        direct.attach(app, app.state.server)
        assert direct.state_for(app) is None
        direct.detach(app)

    asyncio.run(run())


@pytest.mark.parametrize("timeout", [0.2])
def test_the_sweep_answers_headers_that_never_end_with_408(timeout: float) -> None:
    async def run() -> None:
        app, state, config, uvicorn_state = await _setup(header_timeout=timeout, keep_alive_timeout=5.0)
        try:
            conn, transport = _connection(config, uvicorn_state)
            conn.data_received(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            for _ in range(500):  # bounded: the sweep runs every 50 ms here
                if transport.closed:
                    break
                await asyncio.sleep(0.01)
            assert transport.closed and transport.writes[-1].startswith(b"HTTP/1.1 408 ")
            conn.connection_lost(None)
        finally:
            direct.detach(app)
            state.stop()

    asyncio.run(run())


class _SlowSink:
    """A decision log that takes the rows and then, once, reports itself far behind: `record` waits."""

    high_water = 10
    flushed = dropped = 0

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self._behind = 0  # how many more times pending() reports the writer far behind

    def record_many(self, rows: list[Any], traceparent: str | None = None) -> None:
        self.rows.extend(rows)
        if len(self.rows) == 1:  # the first request's rows make it wait (record reads pending twice)
            self._behind = 2

    def pending(self) -> int:
        if self._behind:
            self._behind -= 1
            return 100
        return 0

    def healthy(self) -> bool:
        return True

    def close(self, timeout: float = 30.0) -> None:
        pass


def test_a_direct_answer_whose_log_call_waits_is_sent_after_it_and_before_the_next() -> None:
    async def run() -> None:
        app, state, config, uvicorn_state = await _setup()
        try:
            conn, transport = _connection(config, uvicorn_state)
            conn.data_received(post("/v1/decide", json.dumps(Q).encode()))  # a miss: fills the memo
            await _settle(uvicorn_state)
            transport.writes.clear()
            state.log = sink = _SlowSink()
            conn.data_received(post("/v1/decide", json.dumps(Q).encode()) * 2)
            assert len(sink.rows) == 1 and uvicorn_state.tasks  # logged, waiting in a task; the next queued
            await _settle(uvicorn_state)
            for _ in range(100):  # bounded: the queued request (the ASGI path's) is answered once the first is
                answers = b"".join(transport.writes).split(b"HTTP/1.1 ")[1:]
                if len(answers) == 2 and answers[1].endswith(b"}"):
                    break
                await asyncio.sleep(0.01)
            ids = [json.loads(w.partition(b"\r\n\r\n")[2])["decision_id"] for w in answers]
            assert len(ids) == 2 and ids == [row[3] for row in sink.rows]  # in order, each with its row
        finally:
            direct.detach(app)
            state.stop()

    asyncio.run(run())


def test_when_the_audit_log_refuses_the_rows_the_503_is_the_asgi_paths(tmp_path: Any) -> None:
    from policy_engine.server.decision_log import SqliteDecisionLog

    async def run() -> None:
        app, state, config, uvicorn_state = await _setup()
        try:
            conn, transport = _connection(config, uvicorn_state)
            body = json.dumps(Q).encode()
            conn.data_received(post("/v1/decide", body))  # a miss: fills the memo
            await _settle(uvicorn_state)
            closed = SqliteDecisionLog(tmp_path / "audit.sqlite3", mode="audit").start()
            closed.close()
            state.log = closed  # takes no rows any more: every answer is refused, 503
            got = []
            for extra in (b"", b"Expect: 100-continue\r\n"):  # the protocol's answer, then the ASGI path's
                transport.writes.clear()
                conn.data_received(post("/v1/decide", body).replace(b"Host: x\r\n", b"Host: x\r\nX-Request-ID: r\r\n"
                                                                    + extra))
                await _settle(uvicorn_state)
                await asyncio.sleep(0)
                got.append(b"".join(transport.writes).replace(b"HTTP/1.1 100 Continue\r\n\r\n", b""))
            assert got[0].startswith(b"HTTP/1.1 503 ") and b'"code":"log.unavailable"' in got[0]
            assert got[0] == got[1]
        finally:
            direct.detach(app)
            state.stop()

    asyncio.run(run())
