"""`policy-engine check` as users run it: the installed console script, in a subprocess.

Exit codes (cli/common.py): 0 clean, 4 errors (the policy does not check), 5 warnings with --strict,
2 usage errors. Never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID

BIN = Path(sys.executable).parent
EXE = shutil.which("policy-engine", path=str(BIN))

CLEAN = 'data email "E"\npurpose marketing "M"\nsection "S":\n  allow use of email for marketing\n'
WARNING_ONLY = CLEAN + 'data phone "Phone"\n'
ERRORS = 'data email "E"\nsection "S":\n  allow use of emial basis consnt\n'
SYNTAX = 'data email "E"\nsection "S"\n  allow use of email\n'

pytestmark = pytest.mark.skipif(EXE is None, reason=f"policy-engine is not installed in {BIN}")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert EXE is not None
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    proc = subprocess.run([EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "clean.policy").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "warn.policy").write_text(WARNING_ONLY, encoding="utf-8")
    (tmp_path / "errors.policy").write_text(ERRORS, encoding="utf-8")
    (tmp_path / "syntax.policy").write_text(SYNTAX, encoding="utf-8")
    return tmp_path


def test_console_script_is_the_venvs() -> None:
    assert EXE is not None and Path(EXE).parent == BIN


def test_clean_file_exits_0(work: Path) -> None:
    proc = run("check", "clean.policy", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 file checked: no problems found" in proc.stdout


def test_errors_exit_4_with_positions_carets_and_help(work: Path) -> None:
    proc = run("check", "errors.policy", cwd=work)
    assert proc.returncode == EXIT_INVALID
    out = proc.stdout
    assert "errors.policy:3:16: error: check.unknown_term:" in out
    assert "errors.policy:3:28: error: check.unknown_basis:" in out
    assert "   3 |   allow use of emial basis consnt" in out
    assert "^^^^^" in out and "help: did you mean `email`?" in out
    assert out.rstrip().endswith("1 file checked: 2 errors, 1 warning")
    assert out.index("check.unused_term") < out.index("check.unknown_term") < out.index("check.unknown_basis")


def test_syntax_error_exits_4(work: Path) -> None:
    proc = run("check", "syntax.policy", cwd=work)
    assert proc.returncode == EXIT_INVALID
    assert "syntax.policy:3:3: error: parse.unexpected_token:" in proc.stdout


def test_warnings_alone_exit_0_but_5_with_strict(work: Path) -> None:
    relaxed = run("check", "warn.policy", cwd=work)
    assert relaxed.returncode == 0
    assert "warning: check.unused_term" in relaxed.stdout
    assert "0 errors, 1 warning" in relaxed.stdout
    strict = run("check", "--strict", "warn.policy", cwd=work)
    assert strict.returncode == EXIT_FAILED
    assert run("check", "--strict", "clean.policy", cwd=work).returncode == 0


@pytest.mark.parametrize(
    ("args", "stderr_has"),
    [
        (("check", "missing.policy"), "no such file or folder: missing.policy"),
        (("check",), "Missing argument"),
        ((), "Usage:"),
        (("check", "--bogus", "clean.policy"), "No such option"),
        (("check", "--format", "xml", "clean.policy"), "Invalid value"),
        (("frobnicate",), "No such command"),
        (("check", "empty"), "no .policy files found"),
    ],
    ids=["missing-path", "check-without-paths", "no-args", "unknown-option", "bad-format", "unknown-command",
         "folder-without-policies"],
)
def test_usage_errors_exit_2(work: Path, args: tuple[str, ...], stderr_has: str) -> None:
    (work / "empty").mkdir()
    proc = run(*args, cwd=work)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert stderr_has in proc.stdout + proc.stderr


def test_json_format(work: Path) -> None:
    proc = run("check", "--format", "json", "errors.policy", "clean.policy", cwd=work)
    assert proc.returncode == EXIT_INVALID
    report = json.loads(proc.stdout)
    assert report["files"] == ["errors.policy", "clean.policy"]
    assert (report["errors"], report["warnings"], report["ok"]) == (2, 1, False)
    fields = {"code", "severity", "message", "file", "line", "column", "end_line", "end_column", "help"}
    assert all(set(d) >= fields for d in report["findings"])
    basis = next(d for d in report["findings"] if d["code"] == "check.unknown_basis")
    assert basis == {**basis, "file": "errors.policy", "line": 3, "column": 28, "end_line": 3, "end_column": 34,
                     "severity": "error"}
    assert basis["help"].startswith("did you mean `consent`?")


def test_json_clean_and_strict(work: Path) -> None:
    clean = json.loads(run("check", "--format", "json", "clean.policy", cwd=work).stdout)
    assert clean["ok"] is True and clean["exit_code"] == 0 and clean["command"] == "check"
    assert (clean["files"], clean["findings"], clean["errors"], clean["warnings"]) == (["clean.policy"], [], 0, 0)
    strict = run("check", "--format", "json", "--strict", "warn.policy", cwd=work)
    assert strict.returncode == EXIT_FAILED and json.loads(strict.stdout)["ok"] is False


def test_folder_argument_checks_every_policy_file(work: Path) -> None:
    (work / "nested" / "deeper").mkdir(parents=True)
    (work / "nested" / "a.policy").write_text(CLEAN, encoding="utf-8")
    (work / "nested" / "deeper" / "b.policy").write_text(ERRORS, encoding="utf-8")
    (work / "nested" / "notes.txt").write_text("not a policy", encoding="utf-8")
    proc = run("check", "--format", "json", "nested", cwd=work)
    assert proc.returncode == EXIT_INVALID
    report = json.loads(proc.stdout)
    assert report["files"] == ["nested/a.policy", "nested/deeper/b.policy"]
    assert {d["file"] for d in report["findings"]} == {"nested/deeper/b.policy"}
    text = run("check", "nested/a.policy", "nested", cwd=work)
    assert "3 files checked" in text.stdout


def test_unreadable_inputs_are_diagnostics(work: Path) -> None:
    (work / "latin1.policy").write_bytes('data email "électronique"\n'.encode("latin-1"))
    proc = run("check", "latin1.policy", cwd=work)
    assert proc.returncode == EXIT_INVALID
    assert "latin1.policy:1:13: error: source.invalid_utf8:" in proc.stdout


def test_absolute_paths_outside_cwd_are_shown_as_given(work: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("cwd")
    proc = run("check", str(work / "errors.policy"), cwd=elsewhere)
    assert f"{work / 'errors.policy'}:3:16:" in proc.stdout


def test_version_and_help(work: Path) -> None:
    assert run("--version", cwd=work).stdout.startswith("policy-engine, version ")
    proc = run("check", "--help", cwd=work)
    assert proc.returncode == 0 and "--strict" in proc.stdout and "--format" in proc.stdout


def test_python_dash_m_is_the_same_command(work: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "policy_engine", "check", "errors.policy"], cwd=work,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_INVALID and "check.unknown_term" in proc.stdout


def test_deeply_nested_condition_is_a_policy_problem_not_an_internal_error(work: Path) -> None:
    (work / "deep.policy").write_text(CLEAN.replace("for marketing", "for marketing if " + "not " * 3000 + "f"),
                                      encoding="utf-8")
    proc = run("check", "deep.policy", cwd=work)
    assert proc.returncode == EXIT_INVALID, proc.stderr
