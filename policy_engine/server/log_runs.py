"""Single decisions folded into batch rows as they are queued, not when they are written.

Why: log_fold.py folds the singles of one millisecond into one batch row when a flush writes them,
which costs the flush a Python loop over every queued request and a full check of every decision
id (measured in process, at one worker: about 0.5 µs a single decision, a quarter of what the log
cost it). A memo hit of the direct path (direct.py) is a Remembered answer, the one object its
question's every hit gets, so the log can instead append it to the current millisecond's run as
it comes: three appends, and the run becomes one queued batch row (its pair ids in one C-level
pass) when its millisecond ends, when anything else is queued, and when the log flushes or closes.
The rows and what every reader sees are those log_fold.py would have written. Measured under the
benchmark's load (py-spy, one worker): the log's share of the server's samples fell from 7.6% to
4.5%, and with the flush no longer folding, the answers' p99 with the log on from about 2.5 ms to
1.3 ms; the rate did not change by more than the benchmark's noise (about 1.5% on this machine).

What may join a run: a single answer that is Remembered, with no trace context, whose decision id
came as an IdBlock (made by the process's id sequence, ids.py, so canonical and strictly
increasing in the order made). A run's ids are then stored as its first id and a count when they
are strictly increasing and span exactly as many ids as the run has (nothing else took one between
them), else as the list of their texts. Everything else takes the queue as before, after the run
(the order of one thread's rows is kept; the run lock orders the seal and the queueing).
"""

from __future__ import annotations

import threading
import time
from itertools import islice
from operator import lt
from typing import Any, Awaitable

from policy_engine.server.encode import Remembered
from policy_engine.server.log_fold import ids_text, latency_columns, strings
from policy_engine.server.ids import IdBlock
from policy_engine.server.log_writer import BatchingWriter, Request


def compact_ids(ids: list[str]) -> Any:
    """The layout's integer form of a run's ids (their first id's last 12 hex digits) when they count up
    by one, else their JSON text. `ids`: texts made by the process's id sequence (canonical UUIDv7s)."""
    first, last = ids[0], ids[-1]
    if first[:24] == last[:24] and int(last[24:], 16) - int(first[24:], 16) == len(ids) - 1 \
            and all(map(lt, ids, islice(ids, 1, None))):
        return int(first[24:], 16)
    return strings(ids)


class RunsOfSingles(BatchingWriter):
    """The request side's runs (buffered mode on a target that flushes here: the SQLite file).
    Subclasses keep `_pair_ids` (Remembered -> its pair's id in the file, as text)."""

    _pair_ids: dict[Any, str]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._runs = self._here
        self._run_lock = threading.Lock()
        self._run_ms = -1  # the millisecond (of time.time()) of the run's first decision
        self._run_ts = 0.0  # the run's first decision's time: the row's `ts`
        self._run_answers: list[Remembered] = []
        self._run_latencies: list[float] = []
        self._run_ids: list[str] = []

    def record_answers(self, answers: list[Any], ids: list[str], traceparent: str | None = None,
                       latency: float | None = None) -> Awaitable[None] | None:
        if self._runs and traceparent is None and type(ids) is IdBlock and len(answers) == 1 \
                and type(answers[0]) is Remembered:
            a = answers[0]
            lock = self._run_lock
            lock.acquire()
            if self._open_buffered and self._queued - self._taken < self._max_pending:
                now = time.time()
                ms = int(now * 1000)
                if ms != self._run_ms:
                    if self._run_ids:
                        self._seal_locked()
                    self._run_ms, self._run_ts = ms, now
                self._queued += 1
                self._run_answers.append(a)
                self._run_latencies.append(a.latency if latency is None else latency)
                self._run_ids.append(ids[0])
                lock.release()
                if now - self._flushed_at >= self._flush_interval:
                    self._flush_here()
                return None
            lock.release()  # full or closed: as any other answer (dropped, counted)
        if self._run_ids:
            self.seal()
        return super().record_answers(answers, ids, traceparent, latency)

    def _put(self, request: Request) -> Awaitable[None] | None:
        if self._run_ids:
            self.seal()
        return super()._put(request)

    def _holding(self) -> bool:
        return bool(self._run_ids) or super()._holding()

    def _take(self) -> list[Request]:
        if self._run_ids:
            self.seal()
        return super()._take()

    def close(self, timeout: float = 30.0) -> None:
        with self._run_lock:  # no decision joins a run after this, so none is left behind
            self._open_buffered = False
            if self._run_ids:
                self._seal_locked()
        super().close(timeout)

    def seal(self) -> None:
        """Queue the current run (if any) as its row."""
        with self._run_lock:
            if self._run_ids:
                self._seal_locked()

    def _seal_locked(self) -> None:
        answers, latencies, ids = self._run_answers, self._run_latencies, self._run_ids
        self._run_answers, self._run_latencies, self._run_ids = [], [], []
        self._run_ms = -1
        if len(ids) == 1:
            a = answers[0]
            self._queue.put(((1, self._run_ts, a.query, a.enc, latencies[0], ids[0], None), None))
            return
        pairs = ids_text(answers, self._pair_ids)  # or, one not yet in the file, the answers (the writer learns them)
        self._queue.put(((len(ids), self._run_ts, pairs, None, latency_columns(latencies), (ids[0], compact_ids(ids)),
                          None), None))
