"""The wheel works on its own: built, installed into a fresh venv, used from outside the repo.
Installed without extras it is the language, the engine and the CLI (no web stack; `serve` says
which extra to install); with `[server]` it serves.

Slow (builds a wheel, creates a venv, installs dependencies from the package index); skipped
with the reason when the build backend or the dependencies cannot be fetched (offline).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from paths import REPO

pytestmark = pytest.mark.slow

OFFLINE_SIGNS = (
    "Could not find a version",
    "No matching distribution",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectionError",
    "ProxyError",
    "Read timed out",
)

CLEAN = 'data email "E-mail address"\npurpose marketing "Marketing"\nsection "S":\n  allow use of email for marketing\n'
BROKEN = 'data email "E-mail address"\nsection "S":\n  allow use of emial\n'


def _run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _skip_if_offline(proc: subprocess.CompletedProcess[str], step: str) -> None:
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        if any(sign in out for sign in OFFLINE_SIGNS):
            pytest.skip(f"{step} needs the package index, which is unreachable: {out.strip().splitlines()[-1]}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the `build` package is not installed (pip install -e '.[dev]')")
    outdir = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-isolation")  # the backend is here already: no download needed
    proc = _run(cmd, cwd=REPO)
    _skip_if_offline(proc, "building the wheel (fetching hatchling)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = outdir.glob("policy_engine-*.whl")
    return built


def _make_venv(root: Path, requirement: str) -> Path:
    proc = _run([sys.executable, "-m", "venv", str(root)], cwd=root.parent)
    assert proc.returncode == 0, proc.stderr
    python = root / "bin" / "python"
    proc = _run([str(python), "-m", "pip", "install", "--quiet", requirement], cwd=root.parent)
    _skip_if_offline(proc, "installing the wheel's dependencies")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel alone: `pip install policy-engine`."""
    return _make_venv(tmp_path_factory.mktemp("venv") / "venv", str(wheel))


@pytest.fixture(scope="module")
def server_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install 'policy-engine[server]'`."""
    return _make_venv(tmp_path_factory.mktemp("venv-server") / "venv", f"{wheel}[server]")


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "policy_engine/language/policy.lark" in names
    assert "policy_engine/__init__.py" in names and "policy_engine/cli/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/")]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "policy-engine = policy_engine.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "policy_engine/py.typed" in names  # PEP 561: type checkers use the package's annotations
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names


def _metadata(wheel: Path) -> list[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    header = text.split("\n\n", 1)[0]
    return [(k, v.strip()) for k, _, v in (line.partition(":") for line in header.splitlines()) if v]


def test_wheel_metadata_puts_the_web_stack_in_extras(wheel: Path) -> None:
    meta = _metadata(wheel)
    requires = [v for k, v in meta if k == "Requires-Dist"]
    core = [r for r in requires if "extra ==" not in r]
    server = [r for r in requires if "extra == 'server'" in r or 'extra == "server"' in r]
    web = ("fastapi", "uvicorn", "httptools", "uvloop", "prometheus-client", "httpx")
    assert not [r for r in core if r.lower().startswith(web)], core
    assert {w for w in web if any(r.lower().startswith(w) for r in server)} == set(web), server
    assert ("Provides-Extra", "server") in meta and ("Provides-Extra", "client") in meta
    classifiers = {v for k, v in meta if k == "Classifier"}
    assert {"Typing :: Typed", "License :: OSI Approved :: Apache Software License"} <= classifiers


def test_installed_package_parses_outside_the_repo(venv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "p.policy").write_text(CLEAN, encoding="utf-8")
    script = (
        "import sys, policy_engine\n"
        "from policy_engine import api\n"
        "from policy_engine.language.grammar import grammar_text\n"
        "assert 'TERM_ID' in grammar_text()\n"
        "result = api.check_file('p.policy')\n"
        "assert result.ok and result.diagnostics == [], result.diagnostics\n"
        "print(policy_engine.__file__)\n"
        "print(result.policy.terms[0].id)\n"
    )
    proc = _run([str(venv / "bin" / "python"), "-c", script], cwd=elsewhere)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    location, first_term = proc.stdout.split()
    assert Path(location).resolve().is_relative_to(venv.resolve()), f"imported from {location}, not the wheel"
    assert not Path(location).resolve().is_relative_to(REPO)
    assert first_term == "email"


def test_installed_console_script(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "clean.policy").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "broken.policy").write_text(BROKEN, encoding="utf-8")
    exe = str(venv / "bin" / "policy-engine")
    ok = _run([exe, "check", "clean.policy"], cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no problems found" in ok.stdout
    bad = _run([exe, "check", "broken.policy"], cwd=tmp_path)
    assert bad.returncode == 4  # EXIT_INVALID: the policy does not check
    assert "broken.policy:3:16: error: check.unknown_term" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


def test_without_extras_there_is_no_web_stack(venv: Path, tmp_path: Path) -> None:
    script = ("import importlib.util as u\n"
              "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'httpx', 'prometheus_client') "
              "if u.find_spec(m)))\n")
    proc = _run([str(venv / "bin" / "python"), "-c", script], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_extras_the_cli_decides(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "clean.policy").write_text(CLEAN, encoding="utf-8")
    exe = str(venv / "bin" / "policy-engine")
    proc = _run([exe, "decide", "clean.policy", "--action", "use", "--data", "email", "--purpose", "marketing"],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["decision"] == "allow"
    assert answer["reasons"][0]["rule"] == "allow use of email for marketing"


def test_without_the_server_extra_serve_names_the_install(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "clean.policy").write_text(CLEAN, encoding="utf-8")
    proc = _run([str(venv / "bin" / "policy-engine"), "serve", "clean.policy", "--port", "0"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("policy-engine serve: needs the server extra")
    assert lines[0].endswith("install it with: pip install 'policy-engine[server]'")


def test_without_the_client_extra_ship_logs_names_the_install(venv: Path, tmp_path: Path) -> None:
    proc = _run([str(venv / "bin" / "policy-engine"), "ship-logs", "--db", "d.sqlite3", "--url",
                 "http://127.0.0.1:9/logs"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == ("policy-engine ship-logs: needs the client extra, which is not installed (no module named "
                           "'httpx'); install it with: pip install 'policy-engine[client]'\n")


def test_without_the_client_extra_the_client_names_the_install(venv: Path, tmp_path: Path) -> None:
    proc = _run([str(venv / "bin" / "python"), "-c", "import policy_engine.client"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ModuleNotFoundError: policy_engine.client needs httpx (no module named 'httpx'); install it with: "
        "pip install 'policy-engine[client]'")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_with_the_server_extra_it_serves(server_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "clean.policy").write_text(CLEAN, encoding="utf-8")
    port = _free_port()
    err_path = tmp_path / "serve.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([str(server_venv / "bin" / "policy-engine"), "serve", "clean.policy", "--host",
                                 "127.0.0.1", "--port", str(port), "--no-decision-log"], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        status, deadline = None, time.monotonic() + 60
        while status is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    status = r.status
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert status == 200, err_path.read_text()
        body = json.dumps({"action": "use", "data": "email", "purpose": "marketing"}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/decide", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert json.loads(r.read())["decision"] == "allow"
    finally:
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in err_path.read_text()
