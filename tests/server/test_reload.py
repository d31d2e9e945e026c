"""Reload without loss: POST /v1/admin/reload, SIGHUP and --watch. A version that fails to check
keeps the old one serving and reports its diagnostics (response and log); requests running
during a reload finish on the version they started with; every answer names its digest."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import policy_engine

from .conftest import ADMIN_TOKEN, OPEN_E, Server, assert_clean_log, start, without_id
from .test_api import library_answer, sweep

pytestmark = pytest.mark.slow  # starts server processes

ORIGINAL = OPEN_E.read_bytes()
VERSION_B = ORIGINAL + b"\n# version B: same rules, another digest\n"
BROKEN = ORIGINAL + b"\nthis is not a statement\n"


def write(path: Path, data: bytes, atomic: bool = True) -> None:
    if atomic:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        with open(path, "wb") as f:
            f.write(data)


def library(path: Path, data: bytes) -> Any:
    write(path.with_name("lib-" + path.name), data)
    lib = policy_engine.load(str(path.with_name("lib-" + path.name)))
    return lib


@pytest.fixture(scope="module")
def served_file(workdir: Path) -> Path:
    path = workdir / "reload.policy"
    write(path, ORIGINAL)
    return path


@pytest.fixture(scope="module")
def reload_server(workdir: Path, token_files: dict[str, Path], served_file: Path) -> Iterator[Server]:
    srv = start(workdir, served_file, "--admin-token-file", str(token_files["admin"]),
                "--decision-log", str(workdir / "reload-decisions.sqlite3"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def restore(served_file: Path) -> Iterator[None]:
    yield
    write(served_file, ORIGINAL)


def digest_of(server: Server) -> str:
    return httpx.get(server.url + "/v1/policy").json()["digest"]


def wait_for_digest(server: Server, digest: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while digest_of(server) != digest:
        assert time.monotonic() < deadline, f"still serving {digest_of(server)}, not {digest}"
        time.sleep(0.05)


def test_api_reload_and_a_broken_version_keeps_the_old_one(reload_server, served_file):
    a = policy_engine.loads(ORIGINAL.decode(), "a").digest
    b = policy_engine.loads(VERSION_B.decode(), "b").digest
    with reload_server.client(token=ADMIN_TOKEN) as http:
        assert http.post("/v1/admin/reload").json()["result"] == "unchanged"
        write(served_file, VERSION_B)
        r = http.post("/v1/admin/reload")
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "reloaded" and r.json()["previous_digest"] == a
        assert r.json()["policy"]["digest"] == b == digest_of(reload_server)

        write(served_file, BROKEN)
        r = http.post("/v1/admin/reload")
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["code"] == "reload.failed" and b in err["message"]
        (diag,) = err["diagnostics"]
        assert diag["code"] == "parse.unexpected_token" and diag["line"] == ORIGINAL.count(b"\n") + 2
        assert r.json()["policy"]["digest"] == b == digest_of(reload_server)
        q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
        answer = http.post("/v1/decide", json=q).json()
        assert answer["decision"] == "deny" and answer["policy"]["digest"] == b
    log = reload_server.stderr()
    assert "does not check" in log and "parse.unexpected_token" in log
    assert reload_server.metric("policy_engine_reloads_total", trigger="api", result="failed") == 1


def test_reload_while_requests_run(reload_server, served_file, library_policy):
    versions = {}
    for data in (ORIGINAL, VERSION_B):
        lib = library(served_file, data)
        versions[lib.digest] = lib
    queries = [q for q in sweep(library_policy, 200, seed=11) if "error" not in library_answer(library_policy, q)][:40]
    expected = {d: [library_answer(lib, q) for q in queries] for d, lib in versions.items()}
    for d in expected:  # the library copies live in another file: only the file name differs
        for ans in expected[d]:
            for reason in ans["reasons"]:
                reason["file"] = str(served_file)

    stop = threading.Event()
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def load() -> None:
        with reload_server.client(timeout=30) as http:
            for _ in range(2000):  # bounded, and stopped by the event long before
                if stop.is_set():
                    return
                r = http.post("/v1/decide/batch", json={"queries": queries})
                with lock:
                    results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        with reload_server.client(token=ADMIN_TOKEN, timeout=30) as admin:
            for data in (VERSION_B, BROKEN, ORIGINAL, BROKEN, VERSION_B, ORIGINAL, VERSION_B, BROKEN, ORIGINAL):
                before = digest_of(reload_server)
                write(served_file, data)
                r = admin.post("/v1/admin/reload")
                if data is BROKEN:
                    assert r.status_code == 422 and digest_of(reload_server) == before
                else:
                    assert r.status_code == 200, r.text
                time.sleep(0.15)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert len(results) >= 20
    seen = set()
    for status, body in results:
        assert status == 200
        digests = {a["policy"]["digest"] for a in body["answers"]}
        assert len(digests) == 1, "one request, one version"
        (digest,) = digests
        assert digest in expected, digest
        assert without_id(body["answers"]) == expected[digest]
        seen.add(digest)
    assert seen == set(expected), "both versions answered during the run"
    assert_clean_log(reload_server)


def test_sighup_reloads(reload_server, served_file):
    b = policy_engine.loads(VERSION_B.decode(), "b").digest
    write(served_file, VERSION_B)
    reload_server.signal(signal.SIGHUP)
    wait_for_digest(reload_server, b)
    write(served_file, BROKEN)
    reload_server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while reload_server.metric("policy_engine_reloads_total", trigger="SIGHUP", result="failed") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert digest_of(reload_server) == b
    write(served_file, ORIGINAL)
    reload_server.signal(signal.SIGHUP)
    wait_for_digest(reload_server, policy_engine.loads(ORIGINAL.decode(), "a").digest)
    assert reload_server.proc.poll() is None


def test_watch_reloads_on_change(workdir):
    path = workdir / "watched.policy"
    write(path, ORIGINAL)
    srv = start(workdir, path, "--watch", "--watch-interval", "0.1", "--no-decision-log")
    try:
        a = digest_of(srv)
        b = policy_engine.loads(VERSION_B.decode(), "b").digest
        write(path, VERSION_B, atomic=False)  # written in place, as an editor may
        wait_for_digest(srv, b)
        write(path, BROKEN)
        deadline = time.monotonic() + 10
        while "does not check" not in srv.stderr():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert digest_of(srv) == b
        path.unlink()  # gone: keep serving
        time.sleep(0.3)
        assert digest_of(srv) == b
        write(path, ORIGINAL)
        wait_for_digest(srv, a)
        assert_clean_log(srv)
    finally:
        srv.stop()
