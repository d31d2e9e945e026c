"""The shipper: follow a decision log, upload its new rows in batches, never hold more than a
bound in memory, and count what it had to drop.

One loop, one thread: read what is new (up to `read_batch` rows) into the buffer; upload the
oldest `batch_size` events as one gzip JSON array (POST, `Content-Encoding: gzip`, as OPA's
decision-log plugin does); on a 2xx they are acknowledged and leave the buffer, and the cursor
(the last acknowledged row id) is saved to the state file, so a restarted shipper neither
re-sends nor skips. While the collector is unreachable (a connection error, 5xx, 408 or 429)
the upload is retried with exponential backoff and full jitter, honouring Retry-After; reading
goes on meanwhile, and when the buffer is full the oldest events are dropped and counted
(`dropped`): an outage shorter than the buffer loses nothing. Any other refusal (400, 413...)
would be refused again: that batch is dropped, counted in `rejected`, and shipping goes on.
The counters are written to a status file (JSON) after every change, for a probe or a test.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from policy_engine import __version__
from policy_engine.shipping.reader import LogReader

log = logging.getLogger("policy_engine.shipping")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class Counters:
    read: int = 0  # rows taken from the log
    shipped: int = 0  # acknowledged by the collector (2xx)
    dropped: int = 0  # pushed out of the full buffer, never sent
    rejected: int = 0  # in a batch the collector refused for good (4xx other than 408/429)
    failed_uploads: int = 0  # attempts that will be retried
    buffered: int = 0
    cursor: int = 0  # the last row id acknowledged (or given up on)
    collector_up: bool = True


@dataclass
class ShipperConfig:
    db: Path
    url: str
    replica: str
    buffer: int = 10_000  # events held at most while the collector is down
    batch_size: int = 500
    read_batch: int = 1000
    poll: float = 0.5  # seconds between looks at the log when nothing is new
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 10.0
    state: Path | None = None  # where the cursor is kept across restarts
    status: Path | None = None  # where the counters are written
    from_end: bool = False  # a new shipper without state: skip the rows already in the log
    headers: dict[str, str] = field(default_factory=dict)


class Shipper:
    def __init__(self, config: ShipperConfig, transport: httpx.BaseTransport | None = None):
        if config.buffer < config.batch_size:
            raise ValueError(f"the buffer ({config.buffer}) must hold at least one batch ({config.batch_size})")
        self.config = config
        self.counters = Counters()
        self.reader = LogReader(config.db, config.replica)
        self._buffer: deque[tuple[str | None, int, dict[str, Any]]] = deque()  # (file epoch, row id, event)
        self._read_cursor = 0  # the last row id taken into the buffer
        self._stop = threading.Event()
        self._failures = 0
        self._next_try = 0.0
        self._http = httpx.Client(timeout=config.timeout, transport=transport, headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip",
            "User-Agent": f"policy-engine-ship-logs/{__version__}", **config.headers})

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> Counters:
        """Ship until stop(); then one last upload attempt of what is buffered."""
        self._start_cursor()
        try:
            while not self._stop.is_set():
                got = self._read()
                sent = self._upload_if_due()
                if not got and not sent:
                    self._stop.wait(self._idle_wait())
            self._next_try = 0.0
            self._read()
            while self._buffer and self._upload_if_due():
                pass
        finally:
            self._write_status()
            self._http.close()
            self.reader.close()
        return self.counters

    def stop(self) -> None:
        self._stop.set()

    def _idle_wait(self) -> float:
        if self._buffer:
            return max(0.0, min(self.config.poll, self._next_try - time.monotonic()))
        return self.config.poll

    def _start_cursor(self) -> None:
        self.reader.replaced()  # opens the log (when it is there) and learns its epoch
        saved = self._load_state()
        if saved is not None:
            self.counters.cursor = saved
        elif self.config.from_end:
            self.counters.cursor = self.reader.last_id()
        self._read_cursor = self.counters.cursor
        self._write_status()

    def _read(self) -> bool:
        """Take new rows into the buffer. While the collector answers, only as many as there is room
        for (the rest wait in the log). While it is down, follow the log anyway and keep the newest:
        a replica's file may not outlive it (an ephemeral container), so memory is what is bounded."""
        if self.reader.replaced():
            log.warning("ship-logs: %s is a new file (replaced or recreated); shipping it from its first row",
                        self.config.db)
            self._read_cursor = self.counters.cursor = 0
        limit = self.config.read_batch
        if self.counters.collector_up:
            limit = min(limit, self.config.buffer - len(self._buffer))
        if limit <= 0:
            return False
        rows = self.reader.read(self._read_cursor, limit)
        if not rows:
            return False
        self._buffer.extend((self.reader.epoch, row, event) for row, event in rows)
        self._read_cursor = rows[-1][0]
        self.counters.read += len(rows)
        overflow = len(self._buffer) - self.config.buffer
        if overflow > 0:
            for _ in range(overflow):
                self._buffer.popleft()
            self.counters.dropped += overflow
            epoch, first, _ = self._buffer[0]
            if epoch == self.reader.epoch:  # not an event of a file since replaced
                self.counters.cursor = max(self.counters.cursor, first - 1)
            log.warning("ship-logs: buffer full (%d events): dropped the %d oldest (%d so far)",
                        self.config.buffer, overflow, self.counters.dropped)
        self.counters.buffered = len(self._buffer)
        self._write_status()
        return True

    def _upload_if_due(self) -> bool:
        """One upload attempt of the oldest batch when the backoff allows; True if it was acknowledged."""
        if not self._buffer or time.monotonic() < self._next_try:
            return False
        batch = [self._buffer[i] for i in range(min(self.config.batch_size, len(self._buffer)))]
        body = gzip.compress(json.dumps([event for _, _, event in batch], separators=(",", ":")).encode(), 6)
        retry_after: str | None = None
        try:
            response = self._http.post(self.config.url, content=body)
            outcome, status = ("ok" if response.is_success else
                               "retry" if response.status_code in RETRY_STATUSES else "reject"), response.status_code
            retry_after = response.headers.get("Retry-After")
        except httpx.TransportError as err:
            outcome, status = "retry", f"{type(err).__name__}"
        if outcome == "retry":
            self._failed(status, retry_after)
            return False
        for _ in batch:
            self._buffer.popleft()
        if outcome == "ok":
            self.counters.shipped += len(batch)
        else:
            self.counters.rejected += len(batch)
            log.error("ship-logs: the collector refused a batch of %d events (HTTP %s); dropped", len(batch), status)
        if not self.counters.collector_up:
            log.info("ship-logs: the collector answers again")
        self._failures, self._next_try, self.counters.collector_up = 0, 0.0, True
        epoch, last, _ = batch[-1]
        if epoch == self.reader.epoch:
            self.counters.cursor = last
        self.counters.buffered = len(self._buffer)
        self._save_state()
        self._write_status()
        return True

    def _failed(self, status: object, retry_after: str | None) -> None:
        self._failures += 1
        self.counters.failed_uploads += 1
        delay = random.uniform(0, min(self.config.max_backoff, self.config.backoff * 2 ** (self._failures - 1)))
        if retry_after and retry_after.strip().isdigit():
            delay = min(float(retry_after), self.config.max_backoff)
        self._next_try = time.monotonic() + delay
        if self.counters.collector_up:
            log.warning("ship-logs: upload to %s failed (%s); retrying with backoff, buffering meanwhile",
                        self.config.url, status)
        self.counters.collector_up = False
        self._write_status()

    # ---- state and status files ----------------------------------------------------------------
    def _load_state(self) -> int | None:
        path = self.config.state
        if path is None or not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
            if saved.get("db") == str(self.config.db.resolve()) and saved.get("epoch") == self.reader.epoch:
                return int(saved["cursor"])
        except (ValueError, KeyError, TypeError, OSError) as err:
            log.warning("ship-logs: ignoring unreadable state file %s: %s", path, err)
            return None
        log.warning("ship-logs: state file %s is for another log (or an earlier file at its path); starting "
                    "from the first row", path)
        return None

    def _save_state(self) -> None:
        if self.config.state is not None:
            _write_atomic(self.config.state, {"db": str(self.config.db.resolve()), "epoch": self.reader.epoch,
                                             "cursor": self.counters.cursor})

    def _write_status(self) -> None:
        if self.config.status is not None:
            _write_atomic(self.config.status, asdict(self.counters))


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
