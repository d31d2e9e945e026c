"""`--watch`: a daemon thread that polls the policy file's identity (inode, size, mtime) and calls
`reload("watch")` when it changes. Polling needs no extra dependency, sees atomic renames and
in-place writes alike, and costs one stat() per interval.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

log = logging.getLogger("policy_engine.server")


def _identity(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class FileWatcher:
    def __init__(self, path: str, on_change: Callable[[], object], interval: float = 1.0):
        self.path = path
        self.interval = interval
        self._on_change = on_change
        self._stop = threading.Event()
        self._seen = _identity(path)
        self._thread = threading.Thread(target=self._run, name="policy-watch", daemon=True)

    def start(self) -> "FileWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = _identity(self.path)
            if now == self._seen:
                continue
            if now is None:
                log.warning("watch: %s is gone; still serving the policy loaded before", self.path)
                self._seen = None
                continue
            self._seen = now
            try:
                self._on_change()
            except Exception:  # keep watching whatever happened
                log.exception("watch: reloading %s failed", self.path)
