"""suppression.py and lint_run.py: `# lint: ignore[code] reason` beside or above a statement
silences that code there; bad, reasonless, unknown or unused suppressions are findings."""

from __future__ import annotations

import pytest

from policy_engine.engine.loader import check_source
from policy_engine.guard import lint_run
from policy_engine.guard.lint_config import LintConfig
from policy_engine.language.diagnostics import Severity
from policy_engine.language.source import Source

HEAD = """\
data email "E"
data name "N"
data phone "P"
purpose marketing "M"
fact f "F"
section "S":
  retention of all data: "a year"
"""
LINE = HEAD.count("\n") + 1
# a conflict: the deny on phone holds whenever the allow does
CONFLICT = "  allow use of email, name, phone for marketing if f basis consent\n  deny use of phone\n"


def outcome(body: str, config: LintConfig | None = None) -> lint_run.LintRun:
    result = check_source(Source(HEAD + body, "s.policy"))
    assert result.ok, [d.render() for d in result.diagnostics]
    return lint_run.run(result, config)


def codes(body: str, config: LintConfig | None = None) -> list[tuple[str, int | None]]:
    return [(f.code, f.diagnostic.line) for f in outcome(body, config).findings]


def test_the_finding_without_a_suppression() -> None:
    assert codes(CONFLICT) == [("lint.conflict", LINE)]


@pytest.mark.parametrize("body", [
    "  # lint: ignore[lint.conflict] phones are never used for marketing\n" + CONFLICT,
    "  # lint: ignore[lint.conflict] phones are never used for marketing\n  # another comment\n\n" + CONFLICT,
    CONFLICT.replace("basis consent\n", "basis consent  # lint: ignore[lint.conflict] phones: never\n", 1),
    # a statement over several lines: a trailing comment on any of its lines
    CONFLICT.replace("for marketing", "\n    for marketing  # lint: ignore[lint.conflict] phones: never\n   ", 1),
])
def test_a_suppression_beside_or_above_the_statement_silences_its_code(body: str) -> None:
    run = outcome(body)
    assert run.findings == []
    (s,) = run.suppressed
    assert s.finding.code == "lint.conflict" and s.reason.startswith("phones")


def test_a_suppression_names_its_codes_so_other_findings_stay() -> None:
    body = "  # lint: ignore[lint.missing_basis] reason\n" + CONFLICT
    assert codes(body) == [("lint.unused_suppression", LINE), ("lint.conflict", LINE + 1)]


def test_a_suppression_applies_to_one_statement_only() -> None:
    body = "  # lint: ignore[lint.conflict] only the first\n" + CONFLICT + \
        "  allow use of name, phone for marketing if f basis legitimate_interests\n"
    assert codes(body) == [("lint.conflict", LINE + 3)]


def test_the_old_code_is_an_alias() -> None:
    head = 'purpose support "S"  # lint: ignore[lint.unused_term] kept for the next version of the text\n'
    result = check_source(Source(head + HEAD + CONFLICT.replace(", phone", ""), "s.policy"))
    run = lint_run.run(result)
    assert run.findings == [] and [s.finding.code for s in run.suppressed] == ["check.unused_term"]


def test_a_suppression_without_a_reason_is_reported_and_still_suppresses() -> None:
    f, = outcome("  # lint: ignore[lint.conflict]\n" + CONFLICT).findings
    assert (f.code, f.diagnostic.line, f.diagnostic.severity) == ("lint.suppression_without_reason", LINE,
                                                                  Severity.WARNING)
    assert f.diagnostic.help is not None and "# lint: ignore[lint.conflict] " in f.diagnostic.help


def test_an_unknown_code_is_reported_with_the_close_code() -> None:
    run = outcome("  # lint: ignore[lint.conflcit] typo\n" + CONFLICT)
    assert [f.code for f in run.findings] == ["lint.unknown_code", "lint.conflict"]
    assert run.findings[0].diagnostic.help is not None and "`lint.conflict`" in run.findings[0].diagnostic.help


def test_a_suppression_that_suppresses_nothing_is_reported() -> None:
    f, = outcome("  # lint: ignore[lint.conflict] no longer needed\n" + CONFLICT.replace(", phone", "")).findings
    assert (f.code, f.diagnostic.line) == ("lint.unused_suppression", LINE)
    assert "`lint.conflict`" in f.diagnostic.message


@pytest.mark.parametrize("comment", ["# lint: ignore everything", "# lint: ignore[] why", "# lint: off"])
def test_a_malformed_lint_comment_is_an_error(comment: str) -> None:
    f, = outcome(f"  {comment}\n" + CONFLICT.replace(", phone", "")).findings
    assert (f.code, f.diagnostic.severity) == ("lint.bad_suppression", Severity.ERROR)
    assert f.diagnostic.help is not None and "# lint: ignore[" in f.diagnostic.help


def test_a_comment_that_mentions_lint_is_no_suppression() -> None:
    assert codes("  # the lint says nothing here\n" + CONFLICT.replace(", phone", "")) == []


def test_every_suppression_code_is_known() -> None:
    assert {"lint.bad_suppression", "lint.suppression_without_reason", "lint.unknown_code",
            "lint.unused_suppression", "lint.conflict", "check.unused_term", "art13.controller",
            "lint.unused_term"} <= set(lint_run.KNOWN)
