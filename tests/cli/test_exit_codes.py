"""The exit codes of docs/cli.md, command by command, through the installed console script:
each command's way to end in usage (2), does not check (4) and fails (5), the replay's and the
log's missing files, and the safety net's internal error (3) for a fault inside a command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine.cli.common import EXIT_FAILED, EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, EXIT_USAGE

REPO = Path(__file__).resolve().parents[2]
EXE = shutil.which("policy-engine", path=str(Path(sys.executable).parent))
OPEN_E = (REPO / "policies" / "open_e.policy").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(EXE is None, reason="policy-engine is not installed beside this Python")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("codes")
    (d / "open_e.policy").write_text(OPEN_E, encoding="utf-8")
    (d / "broken.policy").write_text(OPEN_E.replace("    for marketing\n", "    for marketting\n", 1), encoding="utf-8")
    (d / "messy.policy").write_text(OPEN_E.replace("  allow use of email\n", "  allow   use of email\n", 1),
                                    encoding="utf-8")
    return d


Q = '{"action": "use", "data": "emial", "purpose": "marketing"}'
CASES = [
    (("decide", "open_e.policy", "--query", Q), EXIT_USAGE),
    (("decide", "broken.policy", "--query", Q.replace("emial", "email")), EXIT_INVALID),
    (("decide", "missing.policy", "--query", Q.replace("emial", "email")), EXIT_USAGE),
    (("render", "missing.policy"), EXIT_USAGE),
    (("serve", "missing.policy", "--no-decision-log", "--port", "0"), EXIT_USAGE),
    (("replay", "--log", "x.sqlite3", "--policy", "missing.policy"), EXIT_USAGE),
    (("explain", "open_e.policy", "--query", Q), EXIT_USAGE),
    (("map", "open_e.policy", "uses", "--data", "emial"), EXIT_USAGE),
    (("map", "broken.policy", "no-consent"), EXIT_INVALID),
    (("graph", "broken.policy"), EXIT_INVALID),
    (("render", "broken.policy"), EXIT_INVALID),
    (("fmt", "--check", "messy.policy"), EXIT_FAILED),
    (("fmt", "--check", "open_e.policy"), EXIT_OK),
    (("fmt", "--check", "broken.policy"), EXIT_OK),  # it parses: fmt lays it out, check finds the error
    (("test", "open_e.policy", "--run", "no such statement"), EXIT_USAGE),
    (("test", "open_e.policy", "--run", "(unclosed"), EXIT_USAGE),
    (("serve", "broken.policy", "--no-decision-log", "--port", "0"), EXIT_INVALID),
    (("log", "--db", "no-such.sqlite3"), EXIT_USAGE),
    (("replay", "--log", "no-such.sqlite3", "--policy", "open_e.policy"), EXIT_USAGE),
    (("replay", "--log", "open_e.policy", "--policy", "open_e.policy"), EXIT_USAGE),
    (("replay", "--log", "x.sqlite3", "--policy", "open_e.policy", "--since", "last tuesday"), EXIT_USAGE),
    (("replay", "--log", "x.sqlite3", "--policy", "broken.policy"), EXIT_INVALID),
    (("check", "--no-such-option", "open_e.policy"), EXIT_USAGE),
]


@pytest.mark.parametrize("args, code", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_each_command_ends_with_the_documented_code(work: Path, args: tuple[str, ...], code: int):
    assert EXE is not None
    proc = subprocess.run([EXE, *args], cwd=work, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == code, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr
    if code not in (EXIT_OK, EXIT_FAILED):
        assert proc.stderr.strip(), "a refusal says why on stderr"


def test_a_fault_inside_a_command_is_one_line_and_exit_3(tmp_path: Path):
    script = ("import click\nfrom policy_engine.cli import app\n"
              "@click.command('boom')\ndef boom():\n    raise KeyError('a bug')\n"
              "app.cli.add_command(boom)\nimport sys\nsys.argv = ['policy-engine', 'boom']\napp.main()\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_INTERNAL
    assert proc.stderr.strip() == ("policy-engine: internal error: KeyError: 'a bug' "
                                   "(please report this with the command you ran)")
