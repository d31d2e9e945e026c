"""Buffered decision logging written by the request side itself (the event loop), the writer thread
standing by: the mixin of log_writer.BatchingWriter for targets that write fast and locally
(`flushes_here`: the SQLite file). Audit mode and the stdout target keep the writer thread.

Why (measured, batches of 100 at one worker under the bench's 16 connections): with the writer
thread doing the writes, the event loop's time per request grew by about 50 µs, though the log's
own work there (its columns) is about 9 µs and the write about 4 µs more. The rest was the GIL: a
thread that wants it back (after each SQLite call or wait) while the loop is busy is woken each time
the loop lets go of it for a system call and mostly loses the race (its wait restarts each time,
so the loop is never asked to hand it over, and the wait lasts until it wins one): the writer
thread woke about 2,700 times a second, and removing its SQLite work changed nothing; a thread
that merely woke 20 times a second cost the loop about 30 µs a request. Writing on the loop once a
flush interval costs the loop the write but none of those wake-ups (the loop's time per request
grows by about 25-30 µs; what it spends beyond the log's own 13 µs is not the garbage collector nor
the flush interval, which were ruled out). So while an event loop writes (its timer armed), the
writer thread sleeps until it is asked: when the file was busy (another worker is writing: the
request side never waits for a lock), for a checkpoint now and then (`_maintain`), and on close(),
when it drains the queue; else (no event loop, or requests stopped) it writes each flush interval,
as in audit mode.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

STOP = object()  # queued by close(): the writer thread writes what is left and ends

# One request's rows, as queued: (n, ts, queries, answers, latencies, decision ids, traceparent);
# n == 1: the one query, answer, latency and id themselves; else lists of n, in the order asked.
Request = tuple[int, float, Any, Any, Any, Any, "str | None"]

_IDLE = 1.0  # s without a flush after which a loop's timer stops


class FlushHere:
    """The request side's flushes and the standing-by writer thread (BatchingWriter sets the state up)."""

    _queue: queue.SimpleQueue[Any]
    _lock: threading.Lock  # one flush at a time, on whichever thread
    _kick: threading.Event  # wakes the standing-by thread: the file was busy, or close()
    _carry: list[Request]  # taken from the queue, not yet written (the file was busy): written first
    _flushed_at: float
    _flush_interval: float
    _ready: bool  # the target is open
    _here: bool  # buffered mode on a target that `flushes_here`
    _tail_armed: bool  # an event loop's timer will flush what is left when requests stop
    _closed: bool

    def _write_batch(self, requests: list[Request], here: bool = False) -> BaseException | None:
        raise NotImplementedError

    def _maintain(self) -> None:
        """On the writer thread when it wakes (the target's housekeeping: a checkpoint, say)."""

    def _flush_here(self) -> None:
        """On the request side, a flush interval after the last flush: write what is queued, then
        arm a timer on the running event loop (if any) that flushes the tail when requests stop."""
        if not self._ready or not self._lock.acquire(False):
            return  # not open yet, or the writer thread is writing: it takes these too
        try:
            self._flushed_at = time.time()
            requests = self._take()
            if requests:
                self._write_batch(requests, here=True)
        finally:
            self._lock.release()
        loop = asyncio._get_running_loop()
        if loop is None:  # no event loop here: the writer thread writes the tail
            if self._tail_armed:  # a timer of a loop that has ended, say
                self._tail_armed = False
                self._kick.set()
        elif not self._tail_armed:
            self._tail_armed = True
            loop.call_later(self._flush_interval, self._tail)

    def _tail(self) -> None:
        """On the event loop, each flush interval while requests come: write what is left if no
        request did. It stops a second after the last flush (the writer thread's job again, at leisure)."""
        self._tail_armed = False
        if self._closed:
            return
        if self._carry or self._holding():
            if time.time() - self._flushed_at >= self._flush_interval:
                self._flush_here()  # which arms the next
                return
        elif time.time() - self._flushed_at > _IDLE:
            self._kick.set()  # idle: the writer thread's job again (nothing contends for the GIL now)
            return
        self._tail_armed = True
        asyncio.get_running_loop().call_later(self._flush_interval, self._tail)

    def _holding(self) -> bool:
        """Whether rows wait to be written: queued (a target may hold more, log_runs.py)."""
        return not self._queue.empty()

    def _take(self) -> list[Request]:
        """Under the lock: the carried requests, then those queued when it began, in order (STOP left
        queued). Bounded by that count: a thread that took until the queue was empty could take for
        ever from a request side putting faster than it takes (it holds the lock meanwhile, so the
        request side cannot flush, and the queue fills up until answers' rows are dropped)."""
        requests, self._carry = self._carry, []
        get = self._queue.get_nowait
        for _ in range(self._queue.qsize()):
            try:
                item = get()
            except queue.Empty:
                break
            if item is STOP:
                self._queue.put(STOP)
                break
            requests.append(item[0])
        return requests

    def _stand_by(self) -> None:
        """The writer thread while the request side writes: asleep while a loop's timer is armed,
        until asked (`_kick`); else each flush interval. Writes what the request side carried over,
        or what waits a flush interval; on close(), everything left."""
        while not self._closed:
            self._kick.wait(None if self._tail_armed and not self._carry else self._flush_interval)
            self._kick.clear()
            if self._closed:
                break
            if self._carry or (not self._tail_armed and time.time() - self._flushed_at >= self._flush_interval):
                with self._lock:
                    self._flushed_at = time.time()
                    requests = self._take()
                    if requests:
                        self._write_batch(requests)
            self._maintain()
        with self._lock:
            requests = self._take()
            while not self._queue.empty():  # close() queued STOP last: nothing comes after it
                item = self._queue.get_nowait()
                if item is not STOP:
                    requests.append(item[0])
            if requests:
                self._write_batch(requests)
