"""A real server for the tests: the INSTALLED console script `policy-engine serve`, started as a
subprocess on a free loopback port, spoken to over HTTP. One server per test module where the
tests can share it; each keeps its stdout/stderr in files the tests read (and print on failure).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from paths import OPEN_E, REPO
SCRIPT = Path(sys.executable).parent / "policy-engine"
ADMIN_TOKEN = "admin-token-for-tests"
DECIDE_TOKEN = "decide-token-for-tests"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`policy-engine serve POLICY --port P ARGS...`; `url`, `stop()`, `kill()`, `stderr()`."""

    def __init__(self, workdir: Path, policy: Path, *args: str, env: dict[str, str] | None = None):
        assert SCRIPT.exists(), f"the console script is not installed at {SCRIPT}"
        self.workdir = workdir
        self.policy = policy
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out_path = workdir / f"server-{self.port}.out"
        self.err_path = workdir / f"server-{self.port}.err"
        self.argv = [str(SCRIPT), "serve", str(policy), "--host", "127.0.0.1", "--port", str(self.port), *args]
        full_env = {**os.environ, "XDG_STATE_HOME": str(workdir / "state"), **(env or {})}
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=full_env,
                                         cwd=REPO)  # so reasons show `policies/open_e.policy`, as the library does

    def wait_ready(self, timeout: float = 30.0) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server not ready within {timeout} s:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the graceful path (the decision log is flushed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 10.0), **kw)

    def metric(self, name: str, **labels: str) -> float:
        """One sample from /metrics (summed over samples matching the labels given)."""
        text = httpx.get(self.url + "/metrics", timeout=5.0).text
        return sum_metric(text, name, **labels)


def sum_metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, rest = head.partition("{")
        if metric != name:
            continue
        got = dict(p.split("=", 1) for p in rest.rstrip("}").split(",") if "=" in p)
        if all(got.get(k) == f'"{v}"' for k, v in labels.items()):
            total += float(value)
    return total


UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def without_id(answer: Any) -> Any:
    """A served answer with its `decision_id` checked (a UUIDv7) and taken out, to compare with the
    library's; an error object (no id) or a list of answers as they are / one by one."""
    if isinstance(answer, list):
        return [without_id(a) for a in answer]
    if isinstance(answer, dict) and "decision" in answer:
        answer = dict(answer)
        decision_id = answer.pop("decision_id")
        assert UUID7.fullmatch(decision_id), decision_id
    return answer


def assert_clean_log(server: Server) -> None:
    """Nothing a client sent may leave a traceback in the server's log."""
    err = server.stderr()
    assert "Traceback" not in err, err[-5000:]
    assert "Exception in ASGI application" not in err, err[-5000:]
    assert "Warning:" not in err, err[-5000:]  # Python warnings (uvicorn's own level is spelt WARNING)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def token_files(workdir: Path) -> dict[str, Path]:
    admin = workdir / "admin.tokens"
    admin.write_text(f"# admin tokens for the tests\n{ADMIN_TOKEN}\n")
    decide = workdir / "decide.tokens"
    decide.write_text(f"{DECIDE_TOKEN}\n")
    return {"admin": admin, "decide": decide}


@pytest.fixture(scope="module")
def policy_copy(workdir: Path) -> Path:
    """A copy of the Open-E policy the module may edit (reload tests)."""
    target = workdir / "open_e.policy"
    shutil.copyfile(OPEN_E, target)
    return target


@pytest.fixture(scope="module")
def library_policy() -> Any:
    import policy_engine

    here = os.getcwd()
    os.chdir(REPO)  # the server runs from the repo root; file names in reasons are relative to it
    try:
        return policy_engine.load("policies/open_e.policy")
    finally:
        os.chdir(here)


def start(workdir: Path, policy: Path, *args: str, **kw: Any) -> Server:
    return Server(workdir, policy, *args, **kw).wait_ready()


@pytest.fixture(scope="module")
def server(workdir: Path, token_files: dict[str, Path]) -> Iterator[Server]:
    """The module's shared server on the real Open-E policy: open decision endpoints, an admin
    token, a SQLite decision log in the module's folder."""
    srv = start(workdir, Path("policies/open_e.policy"), "--admin-token-file", str(token_files["admin"]),
                "--decision-log", str(workdir / "decisions.sqlite3"))
    yield srv
    srv.stop()
    if os.environ.get("POLICY_ENGINE_SHOW_SERVER_LOG"):
        print(srv.stderr())
