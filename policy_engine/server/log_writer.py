"""The decision log's writer thread, whatever the target: a queue the requests append to (one item
per request: its time, its answers, their decision ids, its trace context, and in audit mode a
waiter) and one daemon thread that commits them in transactions. Buffered mode gathers for a
flush interval and never makes a request wait; audit mode commits at once and wakes each waiting
request when its rows are committed (group commit). Subclasses (decision_log.py) open the target
and write a batch of requests. Buffered, a target that writes fast and locally (SQLite) is written
by the request side itself once a flush interval, the thread standing by (log_here.py says why).

Why one item per request, in columns: the request side is on the event loop, so it pays one put
and a few C-level passes over its answers (their queries, answers and latencies as three lists),
not an object per decision; the writer does the per-decision work (texts, keys, joins) in batches.
And why columns rather than the answer objects themselves: what the queue holds survives the
garbage collector's young generations (it waits there for a flush interval), and measured, keeping
every answer object alive that long made the collector cost more than the log's own work.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import namedtuple
from operator import attrgetter
from typing import Any, Awaitable, Callable, Protocol

from policy_engine.server.encode import Encoded
from policy_engine.server.errors import ApiError
from policy_engine.server.ids import DecisionIds
from policy_engine.server.log_here import STOP as _STOP, FlushHere, Request

IDS = DecisionIds()  # the process's one id sequence (the routes and the log share it: ids never repeat)


class Answer(Protocol):
    """One answered query as the routes hold it (deciding.Answered): what the log needs of it."""

    @property
    def query(self) -> Any: ...  # the query as asked, or its log text (a str)
    @property
    def enc(self) -> Encoded: ...
    @property
    def latency(self) -> float: ...  # seconds spent deciding


_QUERY, _ENC, _LATENCY = attrgetter("query"), attrgetter("enc"), attrgetter("latency")
_Row = namedtuple("_Row", "query enc latency")  # an Answer from loose values (record_many)


log = logging.getLogger("policy_engine.server")

MODES = ("buffered", "audit")


class _Waiter:
    """Queued after an audit-mode request's rows: resolved once every row before it is committed."""

    __slots__ = ("loop", "future")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self.loop.create_future()


def _settle(waiters: list[_Waiter], error: BaseException | None) -> None:
    """On the writer thread: wake the requests waiting for this commit, one call per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for w in waiters:
        by_loop.setdefault(w.loop, []).append(w.future)

    def resolve(futures: list[asyncio.Future[None]]) -> None:
        for f in futures:
            if not f.done():
                if error is None:
                    f.set_result(None)
                else:
                    f.set_exception(ApiError(503, "log.write_failed", "the decision log could not record this "
                                             "answer, so it is not given (audit mode); retry", headers={"Retry-After": "1"}))

    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(resolve, futures)
        except RuntimeError:  # that loop is closed: nobody waits any more
            pass


class DecisionSink(Protocol):
    """What the server logs through. A sink may also have `hit(answer, decision_id, latency)`, the short
    way in for a memo hit of the direct path (log_runs.py), or None there; direct.py uses it when set."""

    flushed: int
    dropped: int
    high_water: int  # pending rows above which the server holds answers back until the writer catches up

    def record(self, query: Any, decision: Encoded, latency_s: float, decision_id: str | None = None,
               traceparent: str | None = None) -> None: ...
    def record_many(self, rows: list[tuple[Any, Encoded, float, str]],
                    traceparent: str | None = None) -> Awaitable[None] | None: ...
    def record_answers(self, answers: list[Any], ids: list[str], traceparent: str | None = None,
                       latency: float | None = None) -> Awaitable[None] | None: ...
    def pending(self) -> int: ...
    def healthy(self) -> bool: ...
    def close(self, timeout: float = 30.0) -> None: ...


async def catch_up(sink: DecisionSink) -> None:
    """Buffered mode, the writer far behind: wait until it is down to half the high-water mark (10 s
    at most), so sustained overload slows answers instead of losing rows."""
    deadline = time.monotonic() + 10.0
    low = sink.high_water // 2
    while sink.pending() > low and sink.healthy() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


class BatchingWriter(FlushHere):
    """Queue + one daemon thread calling `_write(rows)` per batch (or, buffered, the request side:
    log_here.py). Subclasses open their target."""

    thread_name = "decision-log"
    flushes_here = False  # a target whose writes are fast and local: buffered, the request side writes
    # the short way in for a memo hit (log_runs.py), where a target keeps runs; None here, so direct.py
    # finds out at the cost of an attribute read, not of the AttributeError a missing one costs getattr
    hit: Callable[..., Awaitable[None] | None] | None = None

    def __init__(self, *, mode: str = "buffered", batch_size: int = 1024, flush_interval: float = 0.05,
                 max_pending: int = 200_000, on_flush: Callable[[int], None] | None = None,
                 on_drop: Callable[[int], None] | None = None):
        if mode not in MODES:
            raise ValueError(f"decision log mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_pending = max_pending
        # Above this the server waits for the writer (routes/decisions.record). Half the bound, not a
        # quarter: at 350,000 batched decisions a second a quarter (50,000) is 140 ms, which a writer
        # waiting for the GIL behind a busy loop reaches in normal running, and every answer then waited.
        self.high_water = max(1, max_pending // 2)
        self._on_flush = on_flush
        self._on_drop = on_drop
        self._closed = False
        self._open_buffered = mode == "buffered"  # and not closed: a single answer's short way into the queue
        self._failed = False
        self._wake = threading.Event()  # set by close(): stop gathering, write now
        self._here = self.flushes_here and mode == "buffered"
        self._lock = threading.Lock()
        self._kick = threading.Event()
        self._carry: list[Request] = []
        self._flushed_at = time.time()
        self._ready = False
        self._tail_armed = False
        self._queued = 0
        self._taken = 0
        self._last_drop_warning = 0.0
        self.flushed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def start(self) -> "BatchingWriter":
        self._thread.start()
        return self

    # ---- request side -------------------------------------------------------------------------
    # One queue item per request (its rows, and in audit mode the waiter to wake), not one per row:
    # the request pays one put, and the writer wakes once per flush interval, not once per answer.
    def record(self, query: Any, decision: Encoded, latency_s: float, decision_id: str | None = None,
               traceparent: str | None = None) -> None:
        """One row; a caller that has not given the answer an id gets one made here (every row has one)."""
        self._put((1, time.time(), query, decision, latency_s, decision_id or IDS.one(), traceparent))

    def record_many(self, rows: list[tuple[Any, Encoded, float, str]],
                    traceparent: str | None = None) -> Awaitable[None] | None:
        """Queue (query, answer, latency, decision id) rows, all from one request; see record_answers."""
        if len(rows) == 1:
            return self._put((1, time.time(), *rows[0], traceparent))
        return self.record_answers([_Row(q, e, lat) for q, e, lat, _ in rows], [r[3] for r in rows], traceparent)

    def record_answers(self, answers: list[Answer], ids: list[str], traceparent: str | None = None,
                       latency: float | None = None) -> Awaitable[None] | None:
        """Queue one request's answers and their decision ids (same order; `traceparent` is its trace
        context, or None; `latency`, when given, every answer's, as the memo's hits of one request
        share the lookup's time, else each answer's own); the caller must not change `answers` or
        `ids` after. Buffered: returns None at once. Audit: returns what to await before answering
        (done once the rows are committed), or raises ApiError 503 when they cannot be taken."""
        n = len(answers)
        if n == 1:
            a = answers[0]
            if latency is None:
                latency = a.latency
            if self._open_buffered and self._queued - self._taken < self._max_pending:  # _put's checks, in short
                self._queued += 1
                now = time.time()
                self._queue.put(((1, now, a.query, a.enc, latency, ids[0], traceparent), None))
                if self._here and now - self._flushed_at >= self._flush_interval:
                    self._flush_here()
                return None
            return self._put((1, time.time(), a.query, a.enc, latency, ids[0], traceparent))
        if n == 0:
            return self._put((0, 0.0, None, None, None, None, None))
        return self._put((n, time.time(), *self._columns(answers, ids, latency), traceparent))

    def _columns(self, answers: list[Answer], ids: list[str], latency: float | None) -> tuple[Any, Any, Any, Any]:
        """A batch request's answers as the queue holds them (a target may queue them readier)."""
        latencies = list(map(_LATENCY, answers)) if latency is None else [latency] * len(answers)
        return list(map(_QUERY, answers)), list(map(_ENC, answers)), latencies, ids

    def _put(self, request: Request) -> Awaitable[None] | None:
        n = request[0]
        audit = self.mode == "audit"
        if self._closed or self._queued - self._taken + n > self._max_pending or (audit and not self.healthy()):
            if audit:
                raise ApiError(503, "log.unavailable", "the decision log cannot take this answer now (full, "
                               "failed or closing), so it is not given (audit mode); retry",
                               headers={"Retry-After": "1"})
            self._drop(n)
            return None
        if n == 0:
            return None
        self._queued += n
        if not audit:
            self._queue.put((request, None))
            if self._here and request[1] - self._flushed_at >= self._flush_interval:
                self._flush_here()
            return None
        waiter = _Waiter()
        self._queue.put((request, waiter))
        return waiter.future

    def pending(self) -> int:
        """Rows queued and not yet written (each counter has one writer: the requests, the writer thread)."""
        return self._queued - self._taken

    def healthy(self) -> bool:
        return self._thread.is_alive() and not self._failed

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking rows, write every queued one, and wait for the writer (at most `timeout` s)."""
        if self._closed:
            return
        self._closed = True
        self._open_buffered = False
        self._queue.put(_STOP)
        self._wake.set()
        self._kick.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("decision log: writer did not finish within %.0f s; %d rows may be lost",
                      timeout, self.pending())

    # ---- writer thread ------------------------------------------------------------------------
    def _drop(self, n: int) -> None:
        self.dropped += n
        if self._on_drop:
            self._on_drop(n)
        now = time.monotonic()
        if now - self._last_drop_warning > 10:
            self._last_drop_warning = now
            log.warning("decision log: %d rows dropped so far (queue full or log closed)", self.dropped)

    def _run(self) -> None:
        try:
            self._open()
        except Exception as err:  # cannot open the target: answers go on, rows are counted as dropped
            self._failed = True
            log.error("decision log: cannot open it: %s", err)
            self._drain_dropping()
            return
        self._ready = True
        if self._here:
            self._stand_by()
            self._shutdown()
            return
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            # Buffered: gather for one flush interval (or a full batch), so a busy server commits a
            # few times a second instead of once per request. Audit: commit at once; whatever
            # arrives while a commit runs goes into the next one (group commit), and the requests
            # waiting on a commit are woken together.
            if self.mode == "buffered" and first is not _STOP and self._queue.qsize() < self._batch_size:
                self._wake.wait(self._flush_interval)
            requests: list[Request] = []
            waiters: list[_Waiter] = []
            item = first
            while True:
                if item is _STOP:
                    stop = True
                else:
                    requests.append(item[0])
                    if item[1] is not None:
                        waiters.append(item[1])
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            error = self._write_batch(requests) if requests else None
            if waiters:
                _settle(waiters, error)
        self._shutdown()

    def _drain_dropping(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            n, waiter = item[0][0], item[1]
            self._drop(n)
            self._taken += n
            if waiter is not None:
                _settle([waiter], OSError("the decision log is not open"))

    def _write_batch(self, requests: list[Request], here: bool = False) -> BaseException | None:
        """Commit the requests' rows, batch_size requests a transaction (one row each in SQLite: a
        transaction's cost is in its rows and statements, which batching the decisions of a batch
        request into one row made independent of their number); returns the last error (None when
        all were committed). `here`: on the request side, which does not wait for a busy target
        (`_busy`): what is left is carried over to the writer thread, woken for it."""
        error: BaseException | None = None
        for start in range(0, len(requests), self._batch_size):
            chunk = requests[start:start + self._batch_size]
            size = sum(r[0] for r in chunk)
            try:
                self._write(chunk, here)
            except Exception as err:
                if here and self._busy(err):
                    self._carry = requests[start:]
                    self._kick.set()
                    return None
                log.error("decision log: write failed, %d rows lost: %s: %s", size, type(err).__name__, err)
                self._drop(size)
                error = err
            else:
                self.flushed += size
                if self._on_flush:
                    self._on_flush(size)
            self._taken += size
        return error

    def _open(self) -> None:
        raise NotImplementedError

    def _write(self, requests: list[Request], here: bool = False) -> None:
        """Write the requests' rows, all or none (`here`: on the request side, log_here.py)."""
        raise NotImplementedError

    def _busy(self, err: Exception) -> bool:
        """Whether a failed write wrote nothing and may be done later (the target was busy)."""
        return False

    def _shutdown(self) -> None:
        pass
