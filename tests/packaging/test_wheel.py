"""The wheel works on its own: built, installed into a fresh venv, used from outside the repo.

Slow (builds a wheel, creates a venv, installs dependencies from the package index); skipped
with the reason when the build backend or the dependencies cannot be fetched (offline).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
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


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "venv"
    proc = _run([sys.executable, "-m", "venv", str(root)], cwd=root.parent)
    assert proc.returncode == 0, proc.stderr
    python = root / "bin" / "python"
    proc = _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], cwd=root.parent)
    _skip_if_offline(proc, "installing the wheel's dependencies")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "policy_engine/language/policy.lark" in names
    assert "policy_engine/__init__.py" in names and "policy_engine/cli/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/")]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "policy-engine = policy_engine.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


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
    assert bad.returncode == 1
    assert "broken.policy:3:16: error: check.unknown_term" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
