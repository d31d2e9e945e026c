"""Decision ids: one UUIDv7 (RFC 9562) per answer, e.g. `019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b8f3`.

Why UUIDv7: the first 48 bits are the Unix time in milliseconds, so ids sort by time as text and
as bytes (a log, a warehouse or a support ticket can order and range-scan them), and the other 74
bits make them unique across replicas without coordination. Within one process ids strictly
increase: the 74 bits are drawn at random once per millisecond and then counted up (RFC 9562
section 6.2, method 2, "monotonic random"), which also makes a block of ids for a batch cheap:
one clock read and one random draw per request, then a counter (a batch of 100 answers must not
pay 100 random draws on the event loop).

The millisecond in the id is also what `log_query.find_decision` uses to find a row by id through
the time index, so the log needs no second index.
"""

from __future__ import annotations

import os
import re
import threading
import time

class RandomPool:
    """Random bytes from os.urandom, drawn 4 KiB at a time. Why: os.urandom is a system call that
    lets go of the GIL, and under load the decision-log thread takes it then, so the event loop
    waited for it on every request (measured: tens of microseconds a call). Reset in a forked child,
    so two workers never share bytes."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = 0
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._buf, self._pos = b"", 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._pos + n > len(self._buf):
                self._buf, self._pos = os.urandom(max(self._size, n)), 0
            out = self._buf[self._pos:self._pos + n]
            self._pos += n
            return out


RANDOM = RandomPool()
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)  # version 7 in bits 76-79, variant 10 in bits 62-63
_LOW48 = (1 << 48) - 1
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _text(value: int) -> str:
    h = "%032x" % value
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def millis(decision_id: str) -> int | None:
    """The Unix time in ms an id was made at, or None when the text is not a UUIDv7."""
    text = decision_id.strip().lower()
    if not UUID7.match(text):
        return None
    return int(text[:8] + text[9:13], 16)


class IdBlock(list):  # type: ignore[type-arg]
    """A block of n decision ids that count up by one in their last 12 hex digits (n >= 1): the log
    stores it as its first id and n (log_schema.py), and takes a single one as made by the sequence
    (log_runs.py). Only `DecisionIds.block` makes one."""

    __slots__ = ()


class DecisionIds:
    """Blocks of strictly increasing UUIDv7 texts; thread-safe (the pool threads and the loop share one).
    A block within one 24-digit prefix is an IdBlock (the common case); one that crosses into the
    next is a plain list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._rand_a = 0  # 12 bits
        self._rand_b = 0  # 62 bits; counted up within a millisecond
        self._prefix_of = -1  # the id's bits above its last 48, whose text `_prefix` is
        self._prefix = ""
        self._prefix_ms = -1  # the millisecond `_prefix` was made in (the quick way's condition)

    def block(self, n: int) -> list[str]:
        """n ids, in increasing order (an IdBlock unless they cross into the next prefix)."""
        if n <= 0:
            return []
        now = time.time_ns() // 1_000_000
        with self._lock:
            b = self._rand_b
            low = (b & _LOW48) + 1
            # The common case, most requests: the millisecond the prefix was made in, and the block
            # within the same last 12 hex digits' range: only the counter moves (measured: 0.9 µs a
            # call through the general way below, which builds the 128-bit id).
            if now == self._prefix_ms and low + n - 1 <= _LOW48:
                self._rand_b = b + n
                prefix = self._prefix
            else:
                start, first = self._advance(now, n)
                prefix, low = self._prefix, start & _LOW48
                if low + n - 1 > _LOW48:  # the block crosses into the next 24-digit prefix
                    return [_text(first + i) for i in range(n)]
        if n == 1:
            return IdBlock((prefix + "%012x" % low,))
        return IdBlock([prefix + "%012x" % (low + i) for i in range(n)])

    def _advance(self, now: int, n: int) -> tuple[int, int]:
        """Under the lock: take n ids the general way; (the first's counter, the first id)."""
        if now > self._ms:  # a new millisecond: fresh random bits, leaving 2^61 of counter room
            seed = int.from_bytes(RANDOM.take(10), "big")
            self._ms, self._rand_a, self._rand_b = now, seed >> 68, seed & ((1 << 61) - 1)
        # else: the same millisecond, or the clock went back: keep counting from the last id
        start = self._rand_b + 1
        self._rand_b += n
        if self._rand_b >= 1 << 62:  # (never in practice) the counter is spent: borrow the next ms
            self._ms, start, self._rand_b = self._ms + 1, 0, n - 1
        first = (self._ms << 80) | _VERSION_VARIANT | (self._rand_a << 64) | start
        # The first 24 hex digits (time, version, rand_a, variant, the counter's top bits) stay the
        # same for many blocks: made once, not per request. They are those of the block's last id, so
        # the quick way above goes on from it (a block that crosses is made id by id, by the caller).
        last = first + n - 1
        if last >> 48 != self._prefix_of:
            self._prefix_of, self._prefix = last >> 48, _text(last)[:24]
        self._prefix_ms = self._ms
        return start, first

    def one(self) -> str:
        return self.block(1)[0]
