"""Atomic policy loading (issue 15 item 4): while a policy file is rewritten in place, slowly and in
pieces (truncate, then a few lines at a time with pauses), with --watch polling it and SIGHUPs
arriving, a client asks questions in a loop; every answer must come from the old or the new
complete file (its digest), never from a prefix. Most prefixes of open_e.policy check, so a
reader that took the file as it found it would serve them."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from pathlib import Path

import pytest

from .conftest import OPEN_E, assert_clean_log, start

pytestmark = pytest.mark.slow  # starts server processes

QUERY = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_slowly(path: Path, data: bytes, lines_per_write: int, pause: float, on_piece=None) -> int:
    """In place: truncate, then write `lines_per_write` lines at a time, flushed, `pause` s apart."""
    lines = data.splitlines(keepends=True)
    pieces = 0
    with open(path, "wb") as f:
        for start_at in range(0, len(lines), lines_per_write):
            f.write(b"".join(lines[start_at:start_at + lines_per_write]))
            f.flush()
            pieces += 1
            if on_piece:
                on_piece()
            time.sleep(pause)
    return pieces


def test_no_answer_ever_comes_from_a_partial_file(tmp_path):
    old = OPEN_E.read_bytes()
    new = old.replace(b"\n", b"\n\n", 40) + b"\n# version B\n"  # every prefix differs from the old file
    path = tmp_path / "served.policy"
    path.write_bytes(old)
    srv = start(tmp_path, path, "--no-decision-log", "--watch", "--watch-interval", "0.05",
                "--watch-settle", "0.3")
    seen: dict[str, int] = {}
    done = threading.Event()
    failures: list[str] = []

    def ask() -> None:
        with srv.client(timeout=30) as http:
            for _ in range(20_000):  # bounded; ends when the writer is done and the new file is served
                answer = http.post("/v1/decide", json=QUERY)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    continue
                got = answer.json()["policy"]["digest"]
                seen[got] = seen.get(got, 0) + 1
                if done.is_set() and got == digest(new):
                    return

    client = threading.Thread(target=ask)
    client.start()
    try:
        pieces = write_slowly(path, new, lines_per_write=8, pause=0.02,
                              on_piece=lambda: srv.signal(signal.SIGHUP))
    finally:
        done.set()
        client.join(120)
    assert not client.is_alive()
    print(f"watch test: {pieces} in-place writes, {sum(seen.values())} answers, digests seen: {seen}")
    assert not failures, failures[:3]
    assert set(seen) <= {digest(old), digest(new)}, f"an answer came from a partial file: {seen}"
    assert digest(new) in seen, "the complete new version was served in the end"
    assert pieces > 20, "the file was written in many pieces"
    srv.stop()
    assert_clean_log(srv)


def test_rename_into_place_is_served(tmp_path):
    old = OPEN_E.read_bytes()
    new = old + b"\n# published by rename\n"
    path = tmp_path / "served.policy"
    path.write_bytes(old)
    srv = start(tmp_path, path, "--no-decision-log", "--watch", "--watch-interval", "0.05",
                "--watch-settle", "0.1")
    tmp = tmp_path / ".served.policy.tmp"
    tmp.write_bytes(new)
    tmp.replace(path)
    with srv.client() as http:
        for _ in range(400):  # bounded: 400 x 0.05 s
            if http.get("/v1/policy").json()["digest"] == digest(new):
                break
            time.sleep(0.05)
        assert http.get("/v1/policy").json()["digest"] == digest(new)
    srv.stop()
    assert_clean_log(srv)
