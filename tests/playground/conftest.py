"""The playground as users start it: the installed console script `policy-engine playground`, on a
free loopback port (`--port 0`; the URL is read from its first line on stderr)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
EXE = shutil.which("policy-engine", path=str(Path(sys.executable).parent))
STEP6 = REPO / "docs" / "tutorial" / "step6.policy"


class Playground:
    def __init__(self, policy: Path | None, workdir: Path):
        assert EXE is not None, "policy-engine is not installed beside this Python"
        self.err_path = workdir / "playground.err"
        args = [EXE, "playground", "--port", "0", *([str(policy)] if policy else [])]
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=workdir)
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 60  # a bound on start-up, not a speed assertion
        while time.monotonic() < deadline:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", self.stderr())
            if found:
                try:
                    if httpx.get(found.group(1) + "api/policy", timeout=2).status_code in (200, 404):
                        return found.group(1)
                except httpx.TransportError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"the playground exited with {self.proc.returncode}:\n{self.stderr()}")
            time.sleep(0.1)
        raise RuntimeError(f"the playground did not start:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("playground")
    path = folder / "marketing.policy"
    shutil.copy(STEP6, path)
    return path


@pytest.fixture(scope="module")
def playground(policy_file: Path) -> Iterator[Playground]:
    if EXE is None:
        pytest.skip("policy-engine is not installed beside this Python")
    server = Playground(policy_file, policy_file.parent)
    try:
        yield server
    finally:
        server.stop()
