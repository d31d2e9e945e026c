"""`policy-engine decide | explain | map | graph`, as scripts use them (docs/semantics.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import policy_engine
from policy_engine.cli.app import cli

from paths import OPEN_E as OPEN_E_PATH

OPEN_E = str(OPEN_E_PATH)  # the CLI is handed a string, as a shell hands it
MARKETING = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}


@pytest.fixture(scope="module")
def policy() -> policy_engine.Policy:
    return policy_engine.load(OPEN_E)


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def test_decide_query_prints_the_answer_as_json(policy: policy_engine.Policy) -> None:
    result = run("decide", OPEN_E, "--query", json.dumps(MARKETING))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == policy.decide(MARKETING).to_dict()
    assert result.stdout.count("\n") == 1


def test_friendly_flags_build_the_same_query(policy: policy_engine.Policy) -> None:
    result = run("decide", OPEN_E, "--action", "use", "--data", "email", "--source", "contact",
                 "--purpose", "marketing", "--fact", "newsletter_form")
    assert json.loads(result.stdout) == policy.decide({**MARKETING, "facts": ["newsletter_form"]}).to_dict()
    closed = run("decide", OPEN_E, "--action", "use", "--data", "email", "--source", "contact",
                 "--purpose", "marketing", "--no-facts")
    assert json.loads(closed.stdout)["would_allow_if"] == "newsletter_form or notification_settings"
    pretty = run("decide", OPEN_E, "--query", json.dumps(MARKETING), "--pretty")
    assert json.loads(pretty.stdout) == policy.decide(MARKETING).to_dict()
    assert pretty.stdout.count("\n") > 5


@pytest.mark.parametrize("query, code", [
    ('{"action": "use", "data": "email", "purpose": "marketting"}', "query.unknown_term"),
    ('{"action": "use", "data": "email"', "query.invalid_json"),
    ('{"action": "use", "data": "email"}', "query.missing_dimension"),
    ('{"action": "use", "data": "email", "purpose": "marketing", "x": 1}', "query.unknown_field"),
    ('["use"]', "query.wrong_type"),
])
def test_a_bad_single_query_exits_2_with_one_line(query: str, code: str) -> None:
    result = run("decide", OPEN_E, "--query", query)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and code in result.stderr


def test_unknown_term_error_suggests(policy: policy_engine.Policy) -> None:
    result = run("decide", OPEN_E, "--action", "use", "--data", "email", "--purpose", "marketting")
    assert "did you mean `marketing`" in result.stderr


def test_batch_answers_every_line_and_marks_bad_ones(policy: policy_engine.Policy) -> None:
    lines = [json.dumps(MARKETING), "not json", json.dumps({**MARKETING, "purpose": "nope"}), "",
             json.dumps({"action": "share", "data": "post", "source": "forum", "recipient": "public", "facts": []}),
             json.dumps(MARKETING)]
    result = run("decide", OPEN_E, "--batch", "-", stdin="\n".join(lines) + "\n")
    assert result.exit_code == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0] == out[5] == policy.decide(MARKETING).to_dict()
    assert out[1]["error"]["code"] == "query.invalid_json"
    assert out[2]["error"] == {"code": "query.unknown_term", "message": "unknown purpose `nope`", "field": "purpose",
                               "suggestions": out[2]["error"]["suggestions"]}
    assert out[3]["error"]["code"] == "query.invalid_json"
    assert out[4]["decision"] == "allow"
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == ["line 2", "line 3", "line 4"]


def test_batch_from_a_file_all_good_exits_0(tmp_path: Path, policy: policy_engine.Policy) -> None:
    batch = tmp_path / "queries.jsonl"
    batch.write_text("\n".join(json.dumps({**MARKETING, "facts": f}) for f in ([], ["newsletter_form"])) + "\n")
    result = run("decide", OPEN_E, "--batch", str(batch))
    assert result.exit_code == 0 and result.stderr == ""
    assert [json.loads(x)["decision"] for x in result.stdout.splitlines()] == ["deny", "allow"]


def test_usage_errors() -> None:
    assert run("decide", OPEN_E).exit_code == 2
    assert run("decide", OPEN_E, "--query", "{}", "--data", "email").exit_code == 2
    assert run("decide", OPEN_E, "--batch", "-", "--data", "email", stdin="").exit_code == 2


def test_a_broken_policy_exits_4_with_its_diagnostics(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy"
    bad.write_text('policy "B"\nsection "S":\n  allow use of email for marketing\n')
    result = run("decide", str(bad), "--query", json.dumps(MARKETING))
    assert result.exit_code == 4 and "check.unknown_term" in result.stderr  # EXIT_INVALID


def test_explain_prints_sentences() -> None:
    result = run("explain", OPEN_E, "--action", "use", "--data", "email", "--source", "contact",
                 "--purpose", "marketing", "--no-facts")
    assert result.exit_code == 0
    assert "It would be allowed if newsletter_form or notification_settings." in result.stdout
    assert 'section "Marketing"' in result.stdout
    assert run("explain", OPEN_E, "--query", '{"action": "use"}').exit_code == 2


def test_map_commands(policy: policy_engine.Policy) -> None:
    uses = run("map", OPEN_E, "uses", "--data", "email", "--source", "contact")
    assert uses.exit_code == 0
    assert "use of email from contact for marketing: conditional if newsletter_form or notification_settings" \
        in uses.stdout
    as_json = run("map", OPEN_E, "recipients", "--data", "email", "--format", "json")
    assert json.loads(as_json.stdout) == [r.to_dict() for r in policy.recipients("email")]
    assert "post" in run("map", OPEN_E, "data", "--recipient", "public").stdout
    assert "covers" in run("map", OPEN_E, "purpose", "marketing").stdout
    assert "collect of cookie from website: allow" in run("map", OPEN_E, "no-consent").stdout
    bad = run("map", OPEN_E, "uses", "--data", "emial")
    assert bad.exit_code == 2 and "did you mean `email`" in bad.stderr


@pytest.mark.parametrize("fmt, start", [("dot", "digraph"), ("mermaid", "flowchart LR"), ("json", "{")])
def test_graph_export(fmt: str, start: str, tmp_path: Path) -> None:
    result = run("graph", OPEN_E, "--format", fmt)
    assert result.exit_code == 0 and result.stdout.startswith(start)
    out = tmp_path / f"g.{fmt}"
    assert run("graph", OPEN_E, "--format", fmt, "-o", str(out)).exit_code == 0
    assert out.read_text() == result.stdout


@pytest.mark.slow
def test_the_console_script_exit_codes() -> None:
    exe = [sys.executable, "-m", "policy_engine"]
    ok = subprocess.run([*exe, "decide", OPEN_E, "--query", json.dumps(MARKETING)], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["decision"] == "conditional"
    bad = subprocess.run([*exe, "decide", OPEN_E, "--query", '{"action": "use", "data": "emial", "purpose": "x"}'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.splitlines()) == 1
