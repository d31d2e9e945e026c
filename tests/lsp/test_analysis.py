"""The editor's analysis of a policy text: references by kind, the did-you-mean fixes, what a
position asks for while typing, and LSP positions in UTF-16 units."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp

from policy_engine.language.source import Source
from policy_engine.lsp.analysis import analyse_text, completion_context
from policy_engine.lsp.server import from_lsp, to_lsp

POLICY = '''data email "E-mail"
source forum "Forum"
purpose marketing "Marketing"
fact consented "Consented"
section "S":
  allow use of emial from forum for marketing if consentd basis consnt
  expect deny: use of email from forum for marketing given nothing
  no use of email without consented
'''


def test_references_carry_the_kind_their_position_requires() -> None:
    a = analyse_text(POLICY)
    kinds = [(r.kind, r.id) for r in a.references]
    assert kinds == [("data", "emial"), ("source", "forum"), ("purpose", "marketing"), ("fact", "consentd"),
                     ("basis", "consnt"), ("data", "email"), ("source", "forum"), ("purpose", "marketing"),
                     ("data", "email"), ("fact", "consented")]
    assert a.at(POLICY.index("forum")) == ("source", "forum", a.declarations[("source", "forum")].id_span)
    assert len(a.uses("source", "forum")) == 2


def test_each_did_you_mean_diagnostic_has_its_fix_and_others_have_none() -> None:
    a = analyse_text(POLICY)
    fixes = {d.code: [f.new_text for f in a.fixes(d)] for d in a.diagnostics}
    assert fixes == {"check.unknown_term": ["email"], "check.unknown_fact": ["consented"],
                     "check.unknown_basis": ["consent"]}
    (term,) = [d for d in a.diagnostics if d.code == "check.unknown_term"]
    (fix,) = a.fixes(term)
    assert (fix.span, fix.old_text, fix.title) == (term.span, "emial", "Change `emial` to `email`")


def test_a_text_that_does_not_parse_has_its_syntax_error_and_no_references() -> None:
    a = analyse_text('data email "E"\nsection "S":\n  allow use of email from\n')
    assert not a.parsed and [d.code.split(".")[0] for d in a.diagnostics] == ["parse"]
    assert a.references == [] and a.at(3) is None


@pytest.mark.parametrize(("typed", "kind"), [
    ("  allow use of ", "data"), ("  allow use ", "data"), ("  allow use of email, na", "data"),
    ("  allow use of email from ", "source"), ("  allow share of email with ser", "recipient"),
    ("  allow share of email to ", "recipient"), ("  allow use of email for m", "purpose"),
    ("  allow use of email for a, b, ", "purpose"), ("  allow use of email if a and not ", "fact"),
    ("  allow use of email if (", "fact"), ("  expect deny: use of email given ", "fact"),
    ("  allow use of email basis ", "basis"), ("  right ", "right"), ("  no use without ", "requirement"),
    ("  no share except ", "data"),
    ("data ", None), ("purpose mark", None), ("  allow use of email ", None), ("# for ", None),
    ('  right access via "', None), ('  retention of all data: "a ', None),
])
def test_completion_context_reads_the_keyword_before_the_word_being_typed(typed: str, kind: str | None) -> None:
    got, start = completion_context(typed, len(typed))
    assert got == kind
    assert typed[start:] == typed[len(typed.rstrip("abcdefghijklmnopqrstuvwxyz_.")):]


def test_positions_count_utf16_units_as_the_protocol_does() -> None:
    text = 'data a "😀 x"\ndata b "é"\n'
    source = Source(text)
    x = text.index("x")
    pos = to_lsp(source, x)
    assert (pos.line, pos.character) == (0, x + 1)  # the emoji is one character, two UTF-16 units
    assert from_lsp(source, pos) == x
    b = text.index("b")
    assert to_lsp(source, b) == lsp.Position(line=1, character=5)
    assert from_lsp(source, lsp.Position(line=9, character=0)) == text.rindex("\n") + 1


LINTED = ('data email "E"\ndata phone "P"\npurpose marketing "M"\nfact f "F"\nsection "S":\n'
          '  retention of all data: "a year"\n'
          "  allow use of email, phone for marketing if f basis consent\n  deny use of phone\n")


def test_the_editor_shows_lint_findings_with_the_suppressions_and_the_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from policy_engine.lsp.analysis import analyse

    path = tmp_path / "l.policy"
    path.write_text(LINTED, encoding="utf-8")
    assert [d.code for d in analyse(Source(LINTED, str(path)), lint=True).diagnostics] == ["lint.conflict"]
    assert analyse(Source(LINTED, str(path))).diagnostics == []  # check only (the playground's view)
    suppressed = LINTED.replace("  allow", "  # lint: ignore[lint.conflict] phones: never for marketing\n  allow")
    assert analyse(Source(suppressed, str(path)), lint=True).diagnostics == []
    (tmp_path / "policy-engine.toml").write_text('[lint]\nseverity = { "lint.conflict" = "error" }\n',
                                                 encoding="utf-8")
    (d,) = analyse(Source(LINTED, str(path)), lint=True).diagnostics
    assert (d.code, d.severity.value) == ("lint.conflict", "error")
    (tmp_path / "policy-engine.toml").write_text("[lint]\noops = 1\n", encoding="utf-8")
    codes = [d.code for d in analyse(Source(LINTED, str(path)), lint=True).diagnostics]
    assert codes == ["lint.config_error", "lint.conflict"]


def test_the_suppression_quick_fix_writes_the_comment_and_asks_for_the_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from policy_engine.lsp.analysis import analyse, suppression_edit

    def applied(text: str) -> str:
        (d,) = analyse(Source(text, "l.policy"), lint=True).diagnostics
        edit = suppression_edit(Source(text, "l.policy"), d)
        assert edit is not None
        span, new = edit
        return text[:span.start] + new + text[span.end:]

    fixed = applied(LINTED)
    assert "  allow use of email, phone for marketing if f basis consent  # lint: ignore[lint.conflict] \n" in fixed
    assert [d.code for d in analyse(Source(fixed, "l.policy"), lint=True).diagnostics] == [
        "lint.suppression_without_reason"]
    # a line that has a comment already: the suppression goes on a line of its own above it
    commented = LINTED.replace("basis consent\n", "basis consent  # the text: 'we may'\n")
    assert "\n  # lint: ignore[lint.conflict] \n  allow use of email, phone" in applied(commented)
    errors = analyse(Source("section \"S\":\n  allow use of emial\n", "l.policy"), lint=True).diagnostics
    assert all(suppression_edit(Source("", "l.policy"), d) is None for d in errors)  # check errors: no
