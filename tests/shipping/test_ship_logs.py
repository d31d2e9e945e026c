"""`policy-engine ship-logs` end to end, all real and on loopback: `policy-engine serve` writes its
SQLite decision log, the installed `ship-logs` follows it, and a collector (a small HTTP server
that keeps what it receives, as a real one would in its store) is stopped and restarted while
decisions are being written. Within the buffer bound nothing is lost; past it, exactly the
oldest rows are dropped, and the count says so. Every wait is bounded in time.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from paths import OPEN_E, REPO

import policy_engine

SCRIPT = Path(sys.executable).parent / "policy-engine"
QUERIES = [{"action": "use", "data": "email", "source": "forum", "purpose": "marketing"},
           {"action": "share", "data": "email", "recipient": "public"},
           {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)


class Collector:
    """Receives gzip JSON batches on a fixed port; `events` (decision_id -> event) outlives a
    stop() and start(), like a collector's store."""

    def __init__(self, port: int):
        self.port, self.url = port, f"http://127.0.0.1:{port}/logs"
        self.events: dict[str, dict[str, Any]] = {}
        self.posts = 0
        self.received = 0  # events, duplicates included
        self.status = 204
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> "Collector":
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                assert self.headers["Content-Encoding"] == "gzip" and self.path == "/logs"
                batch = json.loads(gzip.decompress(raw))
                if outer.status < 300:
                    outer.received += len(batch)
                    for event in batch:
                        outer.events[event["decision_id"]] = event
                outer.posts += 1
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        assert self.httpd is not None
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd = None


@contextmanager
def _serving(tmp_path: Path, db: Path) -> Iterator[str]:
    """A real `serve` writing its decision log to `db`; yields its URL."""
    port = _free_port()
    with open(tmp_path / f"serve-{port}.err", "wb") as err:
        proc = subprocess.Popen([str(SCRIPT), "serve", "policies/open_e.policy", "--host", "127.0.0.1", "--port",
                                 str(port), "--decision-log", str(db)], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=err, stdin=subprocess.DEVNULL,
                                env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")})
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / f"serve-{port}.err").read_text()
        try:
            return httpx.get(url + "/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _until("serve is ready", ready)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real `serve` with a SQLite decision log: (its URL, the log's path)."""
    db = tmp_path / "decisions.sqlite3"
    with _serving(tmp_path, db) as url:
        yield url, db


def _decide(url: str, n: int) -> None:
    """n decisions in one batch request: n rows in the log, once the writer commits them."""
    r = httpx.post(url + "/v1/decide/batch", json={"queries": [QUERIES[i % 3] for i in range(n)]}, timeout=30)
    assert r.status_code == 200 and len(r.json()["answers"]) == n


def _rows(collector: Collector, replica: str) -> set[int]:
    """The log rows the collector holds, from log positions `<replica>:<epoch>:<row>` of one file."""
    assert all(not d.startswith(replica) for d in collector.events)  # the server's own decision ids
    ids = [e["log_position"].split(":") for e in collector.events.values()]
    assert {r for r, _, _ in ids} == {replica}
    assert len({epoch for _, epoch, _ in ids}) == 1  # one log file, one epoch
    return {int(row) for _, _, row in ids}


def _status(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_collector_down_and_up_again_loses_nothing_within_the_buffer(replica: tuple[str, Path],
                                                                     tmp_path: Path) -> None:
    url, db = replica
    collector = Collector(_free_port()).start()
    status, metrics_port = tmp_path / "ship.status.json", _free_port()
    argv = [str(SCRIPT), "ship-logs", "--db", str(db), "--url", collector.url, "--replica", "r1", "--buffer", "100",
            "--batch-size", "20", "--poll", "0.02", "--max-backoff", "0.1", "--status", str(status),
            "--state", str(tmp_path / "ship.state.json"), "--metrics-port", str(metrics_port)]
    err_path = tmp_path / "ship.err"
    with open(err_path, "wb") as err:
        shipper = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True)
    try:
        _decide(url, 40)
        _until("the first 40 rows are collected", lambda: len(collector.events) == 40)

        collector.stop()  # an outage shorter than the buffer: 60 rows while it is down
        _decide(url, 60)
        _until("the shipper has read them and failed to upload",
               lambda: _status(status).get("read") == 100 and _status(status).get("failed_uploads", 0) > 0)
        collector.start()
        _until("all 100 are collected", lambda: _status(status).get("shipped") == 100)
        assert _rows(collector, "r1") == set(range(1, 101))
        assert _status(status)["dropped"] == 0

        collector.stop()  # an outage longer than the buffer: 250 rows, room for 100
        _decide(url, 250)
        _until("the shipper has read them all", lambda: _status(status).get("read") == 350)
        collector.start()
        _until("the buffer is shipped", lambda: _status(status).get("buffered") == 0 and
               _status(status).get("collector_up") is True)
        final = _status(status)
        assert final["dropped"] == 150 and final["shipped"] == 200 and final["rejected"] == 0
        assert _rows(collector, "r1") == {*range(1, 101), *range(251, 351)}
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert 'policy_engine_ship_events_total{outcome="dropped"} 150.0' in metrics
        assert 'policy_engine_ship_events_total{outcome="shipped"} 200.0' in metrics
        assert "policy_engine_ship_buffered_events 0.0" in metrics and "policy_engine_ship_collector_up 1.0" in metrics
    finally:
        shipper.send_signal(signal.SIGTERM)
        out, _ = shipper.communicate(timeout=30)
        if collector.httpd is not None:
            collector.stop()
    assert shipper.returncode == 0, err_path.read_text()
    assert json.loads(out.strip().splitlines()[-1])["dropped"] == 150  # the counters, printed on exit
    log = err_path.read_text()
    assert "Traceback" not in log and "buffer full (100 events): dropped the" in log


def test_events_have_the_opa_shape_and_a_restart_resumes(replica: tuple[str, Path], tmp_path: Path) -> None:
    url, db = replica
    collector = Collector(_free_port()).start()
    state, status = tmp_path / "state.json", tmp_path / "status.json"
    argv = [str(SCRIPT), "ship-logs", "--db", str(db), "--url", collector.url, "--replica", "r2", "--poll", "0.02",
            "--state", str(state), "--status", str(status)]
    try:
        for round_, n in enumerate((3, 5)):  # the second shipper starts where the first stopped
            shipper = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _decide(url, n)
            _until(f"round {round_}: the rows are shipped", lambda: len(collector.events) == (3, 8)[round_])
            shipper.send_signal(signal.SIGTERM)
            assert shipper.wait(30) == 0
        assert collector.received == 8  # the restarted shipper sent nothing twice
        assert json.loads(state.read_text())["cursor"] == 8
    finally:
        collector.stop()
    library = policy_engine.load(OPEN_E)
    (event,) = [e for e in collector.events.values() if e["log_position"].endswith(":2")]
    assert event["input"] == QUERIES[1]
    expected = library.decide(QUERIES[1])
    assert event["result"]["decision"] == expected.decision
    assert [r["rule"] for r in event["result"]["rules"]] == [r.rule for r in expected.reasons]
    assert event["bundles"] == {"policy": {"revision": library.digest}}
    assert event["labels"]["id"] == "r2" and event["path"] == "policy-engine/decide"
    assert event["timestamp"].endswith("Z") and event["metrics"]["timer_decide_ns"] >= 0


def test_a_log_started_afresh_is_shipped_from_its_first_row(tmp_path: Path) -> None:
    """The replica's log is deleted and the server starts a new one at the same path (a container
    without a volume): the shipper ships the new file's rows, and their ids differ from the old ones."""
    db, status, collector = tmp_path / "decisions.sqlite3", tmp_path / "status.json", Collector(_free_port()).start()
    shipper = subprocess.Popen([str(SCRIPT), "ship-logs", "--db", str(db), "--url", collector.url, "--replica", "r3",
                                "--poll", "0.02", "--status", str(status), "--state", str(tmp_path / "state.json")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with _serving(tmp_path, db) as url:
            _decide(url, 3)
            _until("the first file's rows are shipped", lambda: len(collector.events) == 3)
        for leftover in tmp_path.glob("decisions.sqlite3*"):
            leftover.unlink()
        with _serving(tmp_path, db) as url:
            _decide(url, 2)
            _until("the new file's rows are shipped", lambda: len(collector.events) == 5)
    finally:
        shipper.send_signal(signal.SIGTERM)
        _, err = shipper.communicate(timeout=30)
        collector.stop()
    by_epoch: dict[str, set[int]] = {}
    for event in collector.events.values():
        replica, epoch, row = event["log_position"].split(":")
        by_epoch.setdefault(epoch, set()).add(int(row))
    assert sorted(by_epoch.values(), key=len) == [{1, 2}, {1, 2, 3}]
    assert _status(status)["cursor"] == 2 and "is a new file (replaced or recreated)" in err
    assert "Traceback" not in err


def test_a_refused_batch_is_counted_and_shipping_goes_on(replica: tuple[str, Path], tmp_path: Path) -> None:
    url, db = replica
    collector = Collector(_free_port()).start()
    collector.status = 400
    status = tmp_path / "status.json"
    shipper = subprocess.Popen([str(SCRIPT), "ship-logs", "--db", str(db), "--url", collector.url, "--poll", "0.02",
                                "--status", str(status)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _decide(url, 4)
        _until("the batch is refused", lambda: _status(status).get("rejected") == 4)
        collector.status = 200
        _decide(url, 2)
        _until("the next rows are shipped", lambda: _status(status).get("shipped") == 2)
        assert _rows(collector, socket.gethostname()) == {5, 6}
    finally:
        shipper.send_signal(signal.SIGTERM)
        shipper.wait(30)
        collector.stop()


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([str(SCRIPT), "ship-logs", "--db", str(tmp_path / "x.sqlite3"), "--url", "ftp://x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "is not an http:// or https:// URL" in proc.stderr
    assert "Traceback" not in proc.stderr
    not_a_log = tmp_path / "notes.sqlite3"
    not_a_log.write_text("these are not decisions\n" * 100)
    proc = subprocess.run([str(SCRIPT), "ship-logs", "--db", str(not_a_log), "--url", "http://127.0.0.1:9/logs"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # EXIT_USAGE: not a decision log
    assert proc.stderr.strip().splitlines()[-1] == (f"policy-engine ship-logs: cannot read {not_a_log}: file is not a "
                                                    "database (is it the decision log `serve` writes?)")
