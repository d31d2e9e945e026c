"""The layering contract (pyproject.toml, [tool.importlinter]): language <- engine <- api <- render
<- guard, server <- lsp <- playground <- cli. A lower layer importing a higher one breaks the build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from paths import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_layers_hold() -> None:
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO / "policy_engine", tmp_path / "policy_engine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    source = tmp_path / "policy_engine" / "language" / "source.py"
    source.write_text(source.read_text(encoding="utf-8") + "\nfrom policy_engine.guard import lint  # noqa\n",
                      encoding="utf-8")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout and "policy_engine.language.source -> policy_engine.guard.lint" in proc.stdout
