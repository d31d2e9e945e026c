"""One JSON envelope: every `--format json` output of check, lint, test, diff and replay, for
passing, failing and broken inputs, validates against docs/schemas/envelope.schema.json, and
its `exit_code` and `ok` say what the process's exit code says. Also: the exit-code table in
docs/cli.md is the one in cli/common.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from policy_engine import __version__, api
from policy_engine.cli.common import EXIT_CODES, EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_WIDENED
from policy_engine.server.decision_log import SqliteDecisionLog
from policy_engine.server.encode import Encoder

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "schemas" / "envelope.schema.json").read_text(encoding="utf-8"))
EXE = shutil.which("policy-engine", path=str(Path(sys.executable).parent))
OPEN_E = (REPO / "policies" / "open_e.policy").read_text(encoding="utf-8")
WIDE = OPEN_E.replace("    with business_partner\n    if partner_inquiry\n", "    with business_partner\n", 1)
BROKEN = OPEN_E.replace("    for marketing\n", "    for marketting\n", 1)

pytestmark = pytest.mark.skipif(EXE is None, reason="policy-engine is not installed beside this Python")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("envelope")
    for name, text in (("open_e.policy", OPEN_E), ("wide.policy", WIDE), ("broken.policy", BROKEN)):
        (d / name).write_text(text, encoding="utf-8")
    policy = api.loads(OPEN_E, "open_e.policy")
    sink = SqliteDecisionLog(d / "decisions.sqlite3", flush_interval=0.01).start()
    encode = Encoder()
    for query in ({"action": "share", "data": "email", "recipient": "business_partner", "facts": []},
                  {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}):
        for _ in range(5):
            sink.record(query, encode(policy.decide(query)), 0.00001)
    sink.close()
    return d


CASES = [
    (("check", "open_e.policy"), EXIT_OK),
    (("check", "broken.policy"), EXIT_INVALID),
    (("lint", "open_e.policy"), EXIT_OK),
    (("lint", "--strict", "open_e.policy"), EXIT_FAILED),
    (("lint", "broken.policy"), EXIT_INVALID),
    (("test", "open_e.policy", "--coverage"), EXIT_OK),
    (("test", "wide.policy"), EXIT_FAILED),
    (("test", "broken.policy", "open_e.policy"), EXIT_INVALID),
    (("diff", "open_e.policy", "open_e.policy"), EXIT_OK),
    (("diff", "open_e.policy", "wide.policy"), EXIT_WIDENED),
    (("diff", "--allow-widening", "open_e.policy", "wide.policy"), EXIT_OK),
    (("replay", "--log", "decisions.sqlite3", "--policy", "open_e.policy"), EXIT_OK),
    (("replay", "--log", "decisions.sqlite3", "--policy", "wide.policy"), EXIT_WIDENED),
]


@pytest.mark.parametrize("args, code", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_every_json_output_validates_against_the_envelope_schema(work: Path, args: tuple[str, ...], code: int):
    assert EXE is not None
    proc = subprocess.run([EXE, *args, "--format", "json"], cwd=work, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr
    out = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(out)
    assert out["command"] == args[0] and out["exit_code"] == code and out["ok"] is (code == EXIT_OK)
    assert out["tool"] == {"name": "policy-engine", "version": __version__}
    if code != EXIT_OK and args[0] != "lint":
        assert out["findings"], "a failing command names what it found"


def test_the_schema_rejects_an_output_that_breaks_it(work: Path):
    assert EXE is not None
    proc = subprocess.run([EXE, "check", "broken.policy", "--format", "json"], cwd=work, capture_output=True,
                          text=True, timeout=120)
    out = json.loads(proc.stdout)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for broken in ({**out, "ok": True}, {**out, "findings": [{"code": "x"}]},
                   {k: v for k, v in out.items() if k != "version"}):
        assert list(validator.iter_errors(broken)), broken


def test_the_exit_code_table_in_the_docs_is_the_one_in_the_code():
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d) \| `(EXIT_[A-Z]+)` \|", text, re.M))
    from policy_engine.cli import common

    assert {int(k): getattr(common, v) for k, v in table.items()} == {k: k for k in EXIT_CODES}
