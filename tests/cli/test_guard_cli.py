"""The CI guardrails as users run them: `policy-engine test | diff | fmt | lint` and
`check --format github`, through the installed console script, in a subprocess.

Exit codes (cli/common.py, docs/cli.md): 0 success, 1 widened, 2 usage error, 4 a policy does
not check, 5 a test, lint or format check fails. Never a traceback, never an internal error for
bad input.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from paths import OPEN_E, REPO

from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_WIDENED

BIN = Path(sys.executable).parent
EXE = shutil.which("policy-engine", path=str(BIN))

pytestmark = pytest.mark.skipif(EXE is None, reason=f"policy-engine is not installed in {BIN}")

# The consent condition of the forum notification e-mails; without it the rule allows them always.
CONSENT = "\n    if forum_emails_opt_in\n"
WIDENED = ("email from forum may now be used for forum_notifications without consent "
           "(before: only if forum_emails_opt_in)")
# An expectation the policy answers `allow` through a rule, turned into a wrong one.
GOOD_EXPECT = "expect allow: use of name from purchase for identity_verification given nothing"
BAD_EXPECT = "expect deny: use of name from purchase for identity_verification given nothing"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")

GIT_ENV = {"GIT_AUTHOR_NAME": "Policy Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
           "GIT_COMMITTER_NAME": "Policy Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert EXE is not None
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    proc = subprocess.run([EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both and "internal error" not in both, both
    return proc


def open_e_text() -> str:
    return OPEN_E.read_text(encoding="utf-8")


def statements(text: str) -> tuple[int, int]:
    """(expectations, invariants) in a policy text, by their first word."""
    lines = [line.strip() for line in text.splitlines()]
    return (sum(line.startswith("expect ") for line in lines),
            sum(line.split(" ", 1)[0] in ("never", "every", "no") for line in lines))


def line_of(text: str, needle: str) -> int:
    """The line where `needle` (which may span lines) starts; it must occur once."""
    assert text.count(needle) == 1, needle
    return text[:text.index(needle)].count("\n") + 1


FORUM_RULE = "  allow use of email\n    from forum\n    for forum_notifications\n"  # the rule that loses its condition


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """open_e.policy as it is, with its consent condition deleted, and with one wrong expectation."""
    d = tmp_path_factory.mktemp("guard")
    text = open_e_text()
    assert text.count(CONSENT) == 1 and text.count(GOOD_EXPECT) == 1
    (d / "open_e.policy").write_text(text, encoding="utf-8")
    (d / "widened.policy").write_text(text.replace(CONSENT, "\n"), encoding="utf-8")
    (d / "failing.policy").write_text(text.replace(GOOD_EXPECT, BAD_EXPECT), encoding="utf-8")
    return d


# ---- test ------------------------------------------------------------------------------------


def test_test_passes_on_open_e() -> None:
    proc = run("test", "policies/open_e.policy", cwd=REPO)
    assert proc.returncode == 0, proc.stdout
    expectations, invariants = statements(open_e_text())
    lines = proc.stdout.rstrip("\n").splitlines()
    assert lines[-1] == f"{expectations + invariants} passed, 0 failed"
    assert lines[-2] == f"policies/open_e.policy: {expectations + invariants} passed, 0 failed"
    assert "FAIL" not in proc.stdout


def test_test_failure_names_file_line_question_wanted_actual_and_rules(work: Path) -> None:
    proc = run("test", "failing.policy", cwd=work)
    assert proc.returncode == EXIT_FAILED
    text = (work / "failing.policy").read_text(encoding="utf-8")
    line = line_of(text, BAD_EXPECT)
    rule_line = line_of(text, "  allow use of email, name, postal_address, phone\n"
                               "    from contact, purchase, promotion\n"
                               "    for identity_verification, crime_prevention\n")
    out = proc.stdout
    assert f"FAIL failing.policy:{line}: expectation in section \"Website / Using your Personal Information\"" in out
    assert "  question: use of name from purchase for identity_verification given nothing" in out
    assert "  wanted:   deny\n" in out
    assert "  actual:   allow\n" in out
    assert "the policy answers allow, the expectation wants deny" in out
    assert f"    allow  failing.policy:{rule_line}  (section \"Website / Using your Personal Information\")" in out
    assert "allow use of email, name, postal_address, phone from contact, purchase, promotion for " \
           "identity_verification, crime_prevention" in out
    expectations, invariants = statements(text)
    assert out.rstrip("\n").splitlines()[-1] == f"{expectations + invariants - 1} passed, 1 failed"


def test_test_a_broken_invariant_names_the_question_and_the_rule(work: Path) -> None:
    proc = run("test", "widened.policy", cwd=work)
    assert proc.returncode == EXIT_FAILED
    text = (work / "widened.policy").read_text(encoding="utf-8")
    inv = "no use of email from forum for forum_notifications without forum_emails_opt_in"
    out = proc.stdout
    assert f"FAIL widened.policy:{line_of(text, inv)}: invariant in section" in out
    assert "  promise:  allowed only when forum_emails_opt_in holds" in out
    assert "  question: use of email from forum for forum_notifications (facts unknown)" in out
    assert "  broken:   this question can be allowed when `forum_emails_opt_in` does not hold" in out
    assert f"allow  widened.policy:{line_of(text, FORUM_RULE)}" in out
    assert SUMMARY.match(out.splitlines()[-1]).group(2) == "3"  # type: ignore[union-attr]


def test_test_json(work: Path) -> None:
    proc = run("test", "--format", "json", "failing.policy", "open_e.policy", cwd=work)
    assert proc.returncode == EXIT_FAILED
    report = json.loads(proc.stdout)
    expectations, invariants = statements(open_e_text())
    total = expectations + invariants
    assert (report["passed"], report["failed"]) == (2 * total - 1, 1)
    assert [(f["path"], f["failed"]) for f in report["files"]] == [("failing.policy", 1), ("open_e.policy", 0)]
    (bad,) = [r for r in report["results"] if not r["ok"]]
    assert (bad["kind"], bad["file"], bad["wanted"], bad["actual"]) == ("expect", "failing.policy", "deny", "allow")
    assert bad["query"] == {"action": "use", "data": "name", "source": "purchase", "purpose": "identity_verification",
                            "recipient": None, "facts": []}
    assert [r["effect"] for r in bad["reasons"]] == ["allow"]
    assert sum(r["kind"] == "invariant" for r in report["results"]) == 2 * invariants


def test_test_junit_to_a_file(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    proc = run("test", "--format", "junit", "-o", str(out), "failing.policy", "widened.policy", cwd=work)
    assert proc.returncode == EXIT_FAILED
    assert SUMMARY.match(proc.stdout.strip())  # only the summary on stdout
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    failures = root.findall(".//testcase/failure")
    assert len(failures) == 1 + 3 == int(root.get("failures", "-1"))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"failing.policy", "widened.policy"}
    assert [len(s.findall("testcase/failure")) for s in suites.values()] == [1, 3]
    assert int(root.get("tests", "0")) == len(root.findall(".//testcase"))
    (bad,) = suites["failing.policy"].findall("testcase/failure/..")
    assert bad.get("file") == "failing.policy" and bad.get("line") is not None
    assert "wanted:   deny" in (bad.find("failure").text or "")  # type: ignore[union-attr]


# ---- diff -----------------------------------------------------------------------------------


def test_diff_widening_fails_in_words(work: Path) -> None:
    proc = run("diff", "open_e.policy", "widened.policy", cwd=work)
    assert proc.returncode == EXIT_WIDENED
    out = proc.stdout
    assert "open_e.policy -> widened.policy: 15 questions changed (15 widened, 0 narrowed)" in out
    assert f"WIDENED: {WIDENED}" in out
    assert "e.g. use of email from forum for forum_notifications and 14 more like it: " \
           "was allowed only if forum_emails_opt_in, now allowed" in out
    assert "The policy now allows what it did not allow before" in out and "--allow-widening" in out
    assert out.rstrip().endswith("15 widened, 0 narrowed")
    rule_line = line_of((work / "widened.policy").read_text(encoding="utf-8"), FORUM_RULE)
    assert f"allow  widened.policy:{rule_line}  (section" in out and f"allow  open_e.policy:{rule_line}  (section" in out


def test_diff_allow_widening_exits_0(work: Path) -> None:
    proc = run("diff", "--allow-widening", "open_e.policy", "widened.policy", cwd=work)
    assert proc.returncode == 0
    assert f"WIDENED: {WIDENED}" in proc.stdout
    assert "accept with --allow-widening" not in proc.stdout


def test_diff_narrowing_alone_passes(work: Path) -> None:
    proc = run("diff", "widened.policy", "open_e.policy", cwd=work)
    assert proc.returncode == 0
    assert "NARROWED: email from forum may now be used for forum_notifications only if forum_emails_opt_in " \
           "(before: always)" in proc.stdout
    assert proc.stdout.rstrip().endswith("0 widened, 15 narrowed")


def test_diff_json(work: Path) -> None:
    proc = run("diff", "--format", "json", "open_e.policy", "widened.policy", cwd=work)
    assert proc.returncode == EXIT_WIDENED
    report = json.loads(proc.stdout)
    assert (report["widened"], report["narrowed"]) == (15, 0)
    assert len(report["changes"]) == 15
    recipients = set()
    for change in report["changes"]:
        assert {"query", "before", "after", "before_requires", "after_requires"} <= set(change)
        q = change["query"]
        assert set(q) == {"action", "data", "source", "purpose", "recipient", "facts"}
        assert (q["action"], q["data"], q["source"], q["purpose"], q["facts"]) == \
            ("use", "email", "forum", "forum_notifications", None)
        assert (change["before"], change["after"]) == ("conditional", "allow")
        assert (change["before_requires"], change["after_requires"]) == ("forum_emails_opt_in", None)
        recipients.add(q["recipient"])
    assert None in recipients and len(recipients) == 15  # every recipient, or none named
    assert [s["sentence"] for s in report["findings"]] == [WIDENED]


def test_diff_markdown(work: Path) -> None:
    proc = run("diff", "--format", "markdown", "open_e.policy", "widened.policy", cwd=work)
    assert proc.returncode == EXIT_WIDENED
    out = proc.stdout
    assert out.startswith("## Privacy policy: what this change means")
    assert "Widened: 15 questions" in out and "A reviewer must accept the widening." in out
    assert "| | What changed | Before | Now | Questions |" in out
    assert f"| **widened** | {WIDENED} | allowed only if forum_emails_opt_in | allowed | 15 |" in out
    assert "<details>" in out


def test_diff_identical_files(work: Path) -> None:
    proc = run("diff", "open_e.policy", "open_e.policy", cwd=work)
    assert proc.returncode == 0
    assert "open_e.policy -> open_e.policy: no question's answer changed" in proc.stdout
    assert proc.stdout.rstrip().endswith("0 widened, 0 narrowed")


def test_diff_is_about_meaning_not_text(work: Path) -> None:
    # The marketing allow's condition is repeated by the "only if" deny below it: deleting it from
    # the allow changes no answer, so the diff passes (and `test` still does).
    text = open_e_text()
    condition = "\n    for marketing\n    if newsletter_form or notification_settings\n    basis consent\n"
    assert text.count(condition) == 1
    (work / "reworded.policy").write_text(text.replace(condition, "\n    for marketing\n    basis consent\n"),
                                          encoding="utf-8")
    proc = run("diff", "open_e.policy", "reworded.policy", cwd=work)
    assert proc.returncode == 0
    assert "no question's answer changed" in proc.stdout


# ---- the acceptance scenario: a widening in a git working tree ---------------------------------------


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True,
                   timeout=60)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_widening_in_the_working_tree_fails_test_and_diff(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "policies", repo / "policies")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "the published policy", cwd=repo)
    clean = run("diff", "--base", "HEAD", cwd=repo)
    assert clean.returncode == 0 and "no question's answer changed" in clean.stdout

    policy = repo / "policies" / "open_e.policy"
    policy.write_text(policy.read_text(encoding="utf-8").replace(CONSENT, "\n"), encoding="utf-8")

    tested = run("test", cwd=repo)
    assert tested.returncode == EXIT_FAILED
    out = tested.stdout
    assert "FAIL policies/open_e.policy:" in out
    assert "no use of email from forum for forum_notifications without forum_emails_opt_in" in out
    assert "promise:  allowed only when forum_emails_opt_in holds" in out
    assert "can be allowed when `forum_emails_opt_in` does not hold" in out
    assert "wanted:   deny" in out and "actual:   allow" in out
    assert re.search(r"^\d+ passed, 3 failed$", out, re.M)

    diffed = run("diff", "--base", "HEAD", "policies/open_e.policy", cwd=repo)
    assert diffed.returncode == EXIT_WIDENED
    out = diffed.stdout
    assert "policies/open_e.policy@HEAD -> policies/open_e.policy" in out
    assert f"WIDENED: {WIDENED}" in out
    assert "was allowed only if forum_emails_opt_in, now allowed" in out
    assert "The policy now allows what it did not allow before" in out


# ---- fmt, lint, check annotations ---------------------------------------------------------------------

MESSY = 'data email    "E"\npurpose marketing "M"\nsection "S":\nallow use of email   for marketing basis consent\n'


def test_fmt_check_accepts_the_canonical_policies() -> None:
    proc = run("fmt", "--check", "policies/", cwd=REPO)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip() == "0 of 2 files would be reformatted"


def test_fmt_check_then_fix(tmp_path: Path) -> None:
    messy = tmp_path / "messy.policy"
    messy.write_text(MESSY, encoding="utf-8")
    checked = run("fmt", "--check", "messy.policy", cwd=tmp_path)
    assert checked.returncode == EXIT_FAILED
    assert checked.stdout.splitlines() == ["would reformat messy.policy", "1 of 1 file would be reformatted"]
    assert messy.read_text(encoding="utf-8") == MESSY  # --check writes nothing
    fixed = run("fmt", "messy.policy", cwd=tmp_path)
    assert fixed.returncode == 0 and "reformatted messy.policy" in fixed.stdout
    text = messy.read_text(encoding="utf-8")
    assert "  allow use of email for marketing basis consent\n" in text and 'data email "E"' in text
    assert run("fmt", "--check", "messy.policy", cwd=tmp_path).returncode == 0


def test_fmt_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "messy.policy"
    messy.write_text(MESSY, encoding="utf-8")
    shown = run("fmt", "--diff", "messy.policy", cwd=tmp_path)
    assert shown.returncode == 0
    assert "--- messy.policy (as written)" in shown.stdout and "+++ messy.policy (formatted)" in shown.stdout
    assert "+  allow use of email for marketing basis consent" in shown.stdout
    assert shown.stdout.rstrip().endswith("1 of 1 file would be reformatted")
    assert messy.read_text(encoding="utf-8") == MESSY  # like `black --diff` and `gofmt -d`


def test_lint_sarif(tmp_path: Path) -> None:
    (tmp_path / "l.policy").write_text(
        'data email "E"\ndata name "N"\ndata phone "P"\npurpose marketing "M"\nfact f "F"\nsection "S":\n'
        '  retention of all data: "a year"\n'
        "  allow use of email for marketing if f basis consent\n  deny use of email\n"
        "  allow use of name, phone for marketing if f basis consent\n  deny use of phone\n", encoding="utf-8")
    proc = run("lint", "--format", "sarif", "l.policy", cwd=tmp_path)
    assert proc.returncode == EXIT_FAILED  # a shadowed rule is an error
    log = json.loads(proc.stdout)
    assert log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert {r["id"] for r in driver["rules"]} == {"lint.shadowed_rule", "lint.conflict"}
    results = log["runs"][0]["results"]
    assert {(r["ruleId"], r["level"]) for r in results} == {("lint.shadowed_rule", "error"),
                                                            ("lint.conflict", "warning")}
    where = []
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "l.policy"
        where.append((r["ruleId"], loc["region"]["startLine"], loc["region"]["startColumn"],
                      r["relatedLocations"][0]["physicalLocation"]["region"]["startLine"]))
    assert sorted(where) == [("lint.conflict", 10, 3, 11), ("lint.shadowed_rule", 8, 3, 9)]


def test_check_github_annotations(tmp_path: Path) -> None:
    (tmp_path / "broken.policy").write_text('data email "E"\nsection "S":\n  allow use of emial basis consnt\n',
                                            encoding="utf-8")
    proc = run("check", "--format", "github", "broken.policy", cwd=tmp_path)
    assert proc.returncode == EXIT_INVALID
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, lines  # one workflow command per diagnostic, nothing else
    assert lines[0] == (
        "::warning file=broken.policy,line=1,col=6,endLine=1,endColumn=11,title=check.unused_term::"
        "data `email` is declared but no statement uses it%0Ahelp: use it in a rule or expectation, "
        "or remove the declaration")
    assert lines[1] == ("::error file=broken.policy,line=3,col=16,endLine=3,endColumn=21,title=check.unknown_term::"
                        "unknown data `emial`%0Ahelp: did you mean `email`?")
    assert lines[2].startswith("::error file=broken.policy,line=3,col=28,endLine=3,endColumn=34,"
                               "title=check.unknown_basis::`consnt` is not a legal basis%0Ahelp: ")


# ---- bad input: a clear error, never a traceback -------------------------------------------------------

SYNTAX = 'data email "E"\nsection "S"\n  allow use of email\n'


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    (tmp_path / "syntax.policy").write_text(SYNTAX, encoding="utf-8")
    (tmp_path / "latin1.policy").write_bytes('data email "é"\n'.encode("latin-1"))
    shutil.copy(OPEN_E, tmp_path / "open_e.policy")
    return tmp_path


@pytest.mark.parametrize(("args", "code", "message"), [
    (("diff", "missing.policy", "open_e.policy"), 2, "no such file: missing.policy"),
    (("diff", "open_e.policy"), 2, "name two policy files (OLD NEW), or use --base REV"),
    (("diff", "syntax.policy", "open_e.policy"), EXIT_INVALID, "syntax.policy:3:3: error: parse.unexpected_token"),
    (("diff", "open_e.policy", "latin1.policy"), EXIT_INVALID, "latin1.policy:1:13: error: source.invalid_utf8"),
    (("diff", "--base", "HEAD", "open_e.policy"), 2, "open_e.policy is not inside a git repository"),
    (("diff", "--base", "HEAD"), 2, "no policies/ folder in this repository"),
    (("test",), 2, "no policies/ folder in this repository"),
    (("test", "missing.policy"), 2, "no such file or folder: missing.policy"),
    (("fmt", "--check", "syntax.policy"), EXIT_INVALID, "syntax.policy:3:3: error: parse.unexpected_token"),
    (("lint", "latin1.policy"), EXIT_INVALID, "latin1.policy:1:13: error: source.invalid_utf8"),
], ids=["diff-missing-file", "diff-one-file", "diff-syntax-error", "diff-not-utf8", "base-outside-git",
        "base-outside-git-no-policies", "test-no-policies", "test-missing-file",
        "fmt-syntax-error", "lint-not-utf8"])
def test_bad_input_is_a_clear_error(bad: Path, args: tuple[str, ...], code: int, message: str) -> None:
    proc = run(*args, cwd=bad)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr


def test_test_on_a_policy_that_does_not_parse_counts_one_failure(bad: Path) -> None:
    proc = run("test", "syntax.policy", "open_e.policy", cwd=bad)
    assert proc.returncode == EXIT_INVALID
    assert "ERROR syntax.policy: the policy does not check, so nothing in it was tested" in proc.stdout
    assert "syntax.policy:3:3: error: parse.unexpected_token" in proc.stdout
    expectations, invariants = statements(open_e_text())
    assert proc.stdout.rstrip().splitlines()[-1] == f"{expectations + invariants} passed, 1 failed"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_base_with_a_bad_revision(bad: Path) -> None:
    git("init", "-q", cwd=bad)
    git("add", "open_e.policy", cwd=bad)
    git("commit", "-q", "-m", "one", cwd=bad)
    proc = run("diff", "--base", "no-such-rev", "open_e.policy", cwd=bad)
    assert proc.returncode == 2
    assert "git cannot find revision `no-such-rev`" in proc.stderr
    new = run("diff", "--base", "HEAD", "syntax.policy", cwd=bad)  # not at HEAD; and does not parse
    assert new.returncode == EXIT_INVALID and "parse.unexpected_token" in new.stderr


LINT_POLICY = ('data email "E"\ndata phone "P"\npurpose marketing "M"\nfact f "F"\nsection "S":\n'
               '  retention of all data: "a year"\n'
               "  # lint: ignore[lint.conflict] phones are never used for marketing\n"
               "  allow use of email, phone for marketing if f basis consent\n  deny use of phone\n"
               'section "Empty":\n')


def test_lint_honours_suppressions_and_the_repository_config(tmp_path: Path) -> None:
    (tmp_path / "l.policy").write_text(LINT_POLICY, encoding="utf-8")
    proc = run("lint", "--strict", "l.policy", cwd=tmp_path)
    assert proc.returncode == EXIT_FAILED and "lint.empty_section" in proc.stdout
    assert "lint.conflict" not in proc.stdout and proc.stdout.rstrip().endswith("(1 suppressed)")
    (tmp_path / "pyproject.toml").write_text('[tool.policy-engine.lint]\ndisable = ["lint.empty_section"]\n',
                                             encoding="utf-8")
    assert run("lint", "--strict", "l.policy", cwd=tmp_path).returncode == 0
    body = json.loads(run("lint", "--format", "json", "l.policy", cwd=tmp_path).stdout)
    assert body["findings"] == [] and [(s["code"], s["reason"]) for s in body["suppressed"]] == [
        ("lint.conflict", "phones are never used for marketing")]
    sarif = json.loads(run("lint", "--format", "sarif", "l.policy", cwd=tmp_path).stdout)
    (result,) = sarif["runs"][0]["results"]
    assert result["suppressions"] == [{"kind": "inSource", "justification": "phones are never used for marketing"}]


def test_a_bad_lint_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "l.policy").write_text(LINT_POLICY, encoding="utf-8")
    (tmp_path / "policy-engine.toml").write_text('[lint]\ndisable = ["lint.emtpy_section"]\n', encoding="utf-8")
    proc = run("lint", "l.policy", cwd=tmp_path)
    assert proc.returncode == 2 and "`lint.emtpy_section`, which is no code" in proc.stderr


def test_both_policies_lint_clean_under_strict() -> None:
    proc = run("lint", "--strict", "policies", cwd=REPO)
    assert proc.returncode == 0, proc.stdout


def test_check_honours_a_suppressed_warning_like_lint(tmp_path: Path) -> None:
    text = ('data email "E"\npurpose spare "S"  # lint: ignore[check.unused_term] the next version names it\n'
            'purpose marketing "M"\nsection "S":\n  retention of all data: "a year"\n'
            "  allow use of email for marketing basis legitimate_interests\n")
    (tmp_path / "c.policy").write_text(text, encoding="utf-8")
    assert run("check", "--strict", "c.policy", cwd=tmp_path).returncode == 0
    assert run("lint", "--strict", "c.policy", cwd=tmp_path).returncode == 0
    (tmp_path / "c.policy").write_text(text.replace("  # lint: ignore[check.unused_term] the next version names it",
                                                    ""), encoding="utf-8")
    proc = run("check", "--strict", "c.policy", cwd=tmp_path)
    assert proc.returncode == EXIT_FAILED and "check.unused_term" in proc.stdout
