"""Several writer processes on one store never lose or duplicate an event; SIGKILL while writing
loses no acknowledged event. Real processes, real databases; loops bounded in count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from policy_engine.subjects.store import SubjectStore
from tests.subjects.test_current import current_rows, rebuilt_rows

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRITERS, EACH = 4, 40


def _writer(url: str, name: str, count: int, shared: str = "") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.subjects.writer", url, name, str(count), shared],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_writers_never_lose_or_duplicate(store_url):
    SubjectStore.open(store_url).close()  # migrated once; the writers race on the data, not the schema
    procs = [_writer(store_url, f"w{n}", EACH, "shared") for n in range(WRITERS)]
    acked: dict[str, list[int]] = {}
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        acked[f"w{n}"] = [int(line) for line in out.split()]
    store = SubjectStore.open(store_url)
    with store.backend.transaction() as tx:
        rows = tx.execute("SELECT idempotency_key, id FROM events")
    by_key = dict(rows)
    assert len(by_key) == len(rows)  # no key twice
    for name, ids in acked.items():
        firsts, retries = ids[0::2], ids[1::2]
        assert firsts == retries  # a retry answers with the first event
        assert [by_key[f"{name}-{i}"] for i in range(EACH)] == firsts  # every acknowledged event is there
    shared = [k for k in by_key if k.startswith("shared-")]
    assert sorted(shared) == sorted(f"shared-{i}" for i in range(0, EACH, 10))
    assert len(rows) == WRITERS * EACH + len(shared)
    assert current_rows(store) == rebuilt_rows(store)  # the current tables followed every write
    store.close()


def test_sigkill_loses_no_acknowledged_event(store_url):
    SubjectStore.open(store_url).close()
    proc = _writer(store_url, "k", 100_000)
    acked = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= 60:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    store = SubjectStore.open(store_url)
    with store.backend.transaction() as tx:
        ids = {row[0] for row in tx.execute("SELECT id FROM events")}
    assert set(acked) <= ids
    assert current_rows(store) == rebuilt_rows(store)  # an event and its current state: both, or neither
    store.close()
