"""A writer process for the concurrency and crash tests: `python -m tests.subjects.writer URL NAME N`
records N events (each with key NAME-i, and every key twice: a retry), printing each acknowledged
event id as soon as `record` returns."""

from __future__ import annotations

import sys

from policy_engine.subjects.model import check_event
from policy_engine.subjects.store import SubjectStore


def main(url: str, name: str, count: int, shared: str) -> None:
    store = SubjectStore.open(url)
    for i in range(count):
        event = check_event(f"s{i % 7}", {"kind": "begin", "fact": f"f{i % 3}", "at": "2026-01-01T00:00:00Z",
                                          "evidence": f"{name} {i}"})
        for key in (f"{name}-{i}", f"{name}-{i}"):  # a retry of the same write
            print(store.record(event, key)["id"], flush=True)
        if shared and i % 10 == 0:  # the same key from every writer: only one of them records it
            store.record(check_event("shared", {"kind": "begin", "fact": "f0", "at": "2026-01-01T00:00:00Z",
                                                "evidence": "shared"}), f"shared-{i}")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "")
