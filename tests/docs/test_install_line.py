"""The docs' install line works on a stock Debian/Ubuntu Python, which refuses a plain `pip
install` ("externally-managed-environment"): `pipx install '.[server]'` from a clone, as docs/index.md
says, gives a `policy-engine` that checks a policy and serves the playground's assets.

Slow (pipx builds the wheel and fetches the dependencies); runs where the system Python is an
externally managed one and Debian's pipx is installed, and is skipped elsewhere with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INDEX = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
SYSTEM_PYTHON = Path("/usr/bin/python3")
PIPX = shutil.which("pipx", path="/usr/bin")

pytestmark = pytest.mark.slow


def test_the_docs_give_both_routes_and_how_to_reach_the_command() -> None:
    assert "pipx install '.[server]'" in INDEX and "sudo apt install pipx" in INDEX
    assert "./dev test" in INDEX and ".venv/bin/policy-engine" in INDEX and "source .venv/bin/activate" in INDEX
    tutorial = (REPO / "docs" / "tutorial.md").read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in tutorial and "command not found" in tutorial
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "./dev playground" in readme and "policy-engine playground" in readme


@pytest.mark.skipif(not glob.glob("/usr/lib/python3*/EXTERNALLY-MANAGED") or not SYSTEM_PYTHON.exists(),
                    reason="the system Python is not an externally managed (Debian/Ubuntu) one")
@pytest.mark.skipif(PIPX is None, reason="Debian's pipx is not installed (apt install pipx)")
def test_pipx_install_from_a_clone_works_on_the_system_python(tmp_path: Path) -> None:
    assert PIPX is not None
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    for name in ("pyproject.toml", "README.md"):  # the working tree as it is, committed or not
        shutil.copy(REPO / name, clone / name)
    shutil.rmtree(clone / "policy_engine")
    shutil.copytree(REPO / "policy_engine", clone / "policy_engine", ignore=shutil.ignore_patterns("__pycache__"))
    refused = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "."], cwd=clone,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr + refused.stdout
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"),
               PIPX_DEFAULT_PYTHON=str(SYSTEM_PYTHON), PIP_DISABLE_PIP_VERSION_CHECK="1")
    installed = subprocess.run([PIPX, "install", ".[server]"], cwd=clone, env=env, capture_output=True, text=True,
                               timeout=900)
    out = installed.stdout + installed.stderr
    if installed.returncode != 0 and any(s in out for s in ("No matching distribution", "Could not find a version",
                                                             "Temporary failure in name resolution")):
        pytest.skip(f"pipx needs the package index, which is unreachable: {out.strip().splitlines()[-1]}")
    assert installed.returncode == 0, out
    exe = tmp_path / "bin" / "policy-engine"
    checked = subprocess.run([str(exe), "check", "docs/tutorial/step4.policy"], cwd=clone, env=env,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "0 errors, 2 warnings" in checked.stdout, checked.stdout + checked.stderr
    probe = ("from policy_engine.playground.app import STATIC; from policy_engine.playground import work;"
             "print(sorted(p.name for p in STATIC.iterdir())); print(len(work.tokens('data a \"A\"')))")
    python = next((tmp_path / "pipx" / "venvs" / "policy-engine" / "bin").glob("python"))
    shown = subprocess.run([str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split("\n")[0] == "['app.css', 'app.js', 'index.html']"
