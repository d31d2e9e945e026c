"""The edges of issue 15 through the installed console script: deep nesting, deep JSON in a
batch, conditions over many facts, invalid UTF-8 on stdin. Each command either answers or
refuses with a diagnostic; none exits 3."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine.cli.common import EXIT_INVALID
from policy_engine.language import logic

BIN = Path(sys.executable).parent
EXE = shutil.which("policy-engine", path=str(BIN))

pytestmark = pytest.mark.skipif(EXE is None, reason=f"policy-engine is not installed in {BIN}")

HEAD = 'data d "D"\npurpose p "P"\nfact a "A"\nsection "S":\n'
QUERY = json.dumps({"action": "use", "data": "d", "purpose": "p"})
SIMPLE = 'data d "D"\npurpose p "P"\nsection "S":\n  allow use of d for p basis consent\n'


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    assert EXE is not None
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, cwd=cwd, timeout=120)


def nested_not(levels: int) -> str:
    return "not " * levels + "a"


def nested_andor(levels: int) -> str:
    text = "a"
    for i in range(levels):
        text = f"a and ({text})" if i % 2 else f"a or ({text})"
    return text


@pytest.mark.parametrize("condition", [nested_not(logic.max_depth() - 1), nested_andor(logic.max_depth() - 2),
                                       nested_not(logic.max_depth() + 5), nested_andor(logic.max_depth() + 5)])
def test_check_and_decide_agree_on_deep_conditions(tmp_path: Path, condition: str) -> None:
    path = tmp_path / "deep.policy"
    path.write_text(HEAD + f"  allow use of d for p if {condition}\n", encoding="utf-8")
    check = run("check", str(path))
    decide = run("decide", str(path), "--query", QUERY)
    lint = run("lint", str(path))
    assert 3 not in (check.returncode, decide.returncode, lint.returncode), (check, decide, lint)
    if check.returncode == 0:
        assert decide.returncode == 0 and json.loads(decide.stdout)["decision"] in ("conditional", "allow", "deny")
    else:
        assert b"parse.too_deep" in check.stdout + check.stderr
        assert decide.returncode == EXIT_INVALID and b"parse.too_deep" in decide.stdout + decide.stderr


def test_batch_answers_the_lines_around_a_deeply_nested_one(tmp_path: Path) -> None:
    path = tmp_path / "simple.policy"
    path.write_text(SIMPLE, encoding="utf-8")
    lines = [QUERY, "[" * 100_000, QUERY]
    result = run("decide", str(path), "--batch", "-", stdin=("\n".join(lines) + "\n").encode())
    assert result.returncode == 2
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(out) == 3
    assert out[0]["decision"] == out[2]["decision"] == "allow"
    assert out[1]["error"]["code"] in ("query.too_deep", "query.invalid_json")
    assert b"line 2" in result.stderr


def test_a_large_deny_is_answered_exactly_and_parseably(tmp_path: Path) -> None:
    facts = [f"a{i}" for i in range(13)] + [f"b{i}" for i in range(13)]
    deny = " or ".join(f"(a{i} and b{i})" for i in range(13))
    path = tmp_path / "large.policy"
    path.write_text('data d "D"\npurpose p "P"\n' + "".join(f'fact {f} "{f}"\n' for f in facts) + 'fact c "c"\n'
                    + 'section "S":\n  allow use of d for p\n  allow use of d for p if c\n'
                    + f"  deny use of d for p if {deny}\n  allow use of d for p if a0 and b0\n", encoding="utf-8")
    partial = json.loads(run("decide", str(path), "--query", QUERY).stdout)
    assert partial["decision"] == "conditional"
    assert logic.equivalent(logic.parse_condition(partial["requires"]), logic.parse_condition(f"not ({deny})"))
    closed = json.loads(run("decide", str(path), "--query", json.dumps({**json.loads(QUERY), "facts": []})).stdout)
    assert closed["decision"] == "allow"


def test_fmt_stdin_rejects_invalid_utf8_as_fmt_file_does(tmp_path: Path) -> None:
    bad = b'data d "\xff\xfe"\n'
    path = tmp_path / "bad.policy"
    path.write_bytes(bad)
    from_file = run("fmt", str(path))
    from_stdin = run("fmt", "-", stdin=bad)
    assert from_file.returncode == from_stdin.returncode == EXIT_INVALID
    assert from_stdin.stdout == b""
    assert b"source.invalid_utf8" in from_stdin.stderr and b"source.invalid_utf8" in from_file.stderr
    good = run("fmt", "-", stdin=b'\xef\xbb\xbfdata d  "x"\n')
    assert good.returncode == 0 and good.stdout == b'data d "x"\n'
