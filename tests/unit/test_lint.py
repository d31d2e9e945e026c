"""lint.py: one small policy per finding class (code, line, column, and for rule-against-rule
findings the other rule's location), and a clean policy that gives none."""

from __future__ import annotations

import pytest

from policy_engine.language.diagnostics import Severity
from policy_engine.guard.lint import ALIASES, CODES, Finding, lint
from policy_engine.engine.loader import load_path, load_text

from paths import OPEN_E

HEAD = """\
data email "E-mail address"
source contact "Contact form"
purpose marketing "Marketing"
fact newsletter_form "Subscribed"
section "Retention":
  retention of all data: "a year"
section "S":
"""
LINE = HEAD.count("\n") + 1  # the first statement of section "S"
ALLOW = "  allow use of email from contact for marketing if newsletter_form basis consent\n"


def findings(text: str) -> list[Finding]:
    return lint(load_text(text, "l.policy"))


def where(f: Finding) -> tuple[str, int | None, int | None]:
    return f.code, f.diagnostic.line, f.diagnostic.column


def one(text: str, code: str) -> Finding:
    out = findings(text)
    assert [f.code for f in out] == [code], [f.render() for f in out]
    return out[0]


def test_clean_policy_has_no_findings() -> None:
    assert findings(HEAD + ALLOW) == []


def test_every_code_is_described() -> None:
    assert set(CODES) == {"lint.shadowed_rule", "lint.duplicate_rule", "lint.conflict",
                          "lint.empty_section", "lint.missing_basis", "lint.consent_without_condition",
                          "lint.missing_retention", "lint.constant_condition", "lint.purpose_on_collect"}
    assert all(text.endswith(".") for text in CODES.values())


# ---- rule against rule ----------------------------------------------------------------------


def test_shadowed_allow_is_an_error_naming_the_deny() -> None:
    out = findings(HEAD + ALLOW + "  deny use of email\n")
    shadowed = [f for f in out if f.code == "lint.shadowed_rule"]
    assert [where(f) for f in shadowed] == [("lint.shadowed_rule", LINE, 3)]
    (f,) = shadowed
    assert f.diagnostic.severity is Severity.ERROR
    assert f"line {LINE + 1}" in f.diagnostic.message
    assert [(r.line, r.source.path) for r in f.related] == [(LINE + 1, "l.policy")]


def test_allow_is_shadowed_by_several_denies_together() -> None:
    text = HEAD.replace('fact newsletter_form "Subscribed"\n', 'fact newsletter_form "Subscribed"\nfact other "O"\n')
    text += ("  allow use of email from contact for marketing if newsletter_form or other basis consent\n"
             "  deny use of email for marketing if newsletter_form\n"
             "  deny use of email if other\n")
    shadowed = [f for f in findings(text) if f.code == "lint.shadowed_rule"]
    assert len(shadowed) == 1
    assert sorted(r.line for r in shadowed[0].related) == [LINE + 2, LINE + 3]
    assert f"lines {LINE + 2}, {LINE + 3}" in shadowed[0].diagnostic.message


def test_allow_a_deny_only_sometimes_overrides_is_not_shadowed() -> None:
    out = findings(HEAD + ALLOW + "  deny use of email for marketing if not newsletter_form\n")
    assert out == []  # the deny holds exactly when the allow does not: no conflict either


def test_allow_overridden_on_part_of_its_scope_is_not_shadowed() -> None:
    text = HEAD.replace('source contact "Contact form"\n', 'source contact "Contact form"\nsource forum "F"\n')
    text += ("  allow use of email from contact, forum for marketing if newsletter_form basis consent\n"
             "  deny use of email from forum for marketing\n")
    assert [f.code for f in findings(text)] == ["lint.conflict"]


TWO_SOURCES = HEAD.replace('source contact "Contact form"\n', 'source contact "Contact form"\nsource forum "F"\n')
ALLOW_BOTH = "  allow use of email from contact, forum for marketing if newsletter_form basis consent\n"


def test_conflict_names_both_locations() -> None:
    """A deny that holds whenever the allow does, on part of its scope: a conflict, not shadowing."""
    text = TWO_SOURCES + ALLOW_BOTH + "  deny use of email from forum for marketing if newsletter_form\n"
    conflict = [f for f in findings(text) if f.code == "lint.conflict"]
    assert [where(f) for f in conflict] == [("lint.conflict", LINE + 1, 3)]
    (f,) = conflict
    assert [(r.source.path, r.line) for r in f.related] == [("l.policy", LINE + 2)]
    assert f"line {LINE + 2} holds whenever this allow does" in f.diagnostic.message
    d = f.to_dict()
    assert (d["line"], d["related"]) == (LINE + 1, [{"file": "l.policy", "line": LINE + 2,
                                                     "message": "the deny that overrides it"}])
    assert f"l.policy:{LINE + 2}" in f.render()


@pytest.mark.parametrize(("deny", "relation"), [
    ("  deny use of email from forum for marketing\n", "the deny's data is equal"),
    ("  deny use of all data from forum for marketing if newsletter_form\n", "the deny's data is broader"),
])
def test_conflict_tells_how_the_deny_relates(deny: str, relation: str) -> None:
    (f,) = [f for f in findings(TWO_SOURCES + ALLOW_BOTH + deny) if f.code == "lint.conflict"]
    assert relation in f.diagnostic.message


@pytest.mark.parametrize("rules", [
    # an opt-out beside the allow: the normal way to write an exception
    ALLOW_BOTH + "  deny use of email from forum if opted_out\n",
    ALLOW_BOTH + "  deny use of all data if opted_out\n",
    # the allow itself says when it holds
    ALLOW_BOTH.replace("if newsletter_form", "if newsletter_form and not opted_out") + "  deny use of email if opted_out\n",
])
def test_a_deny_that_narrows_an_allow_by_a_condition_is_no_conflict(rules: str) -> None:
    text = TWO_SOURCES.replace('fact newsletter_form', 'fact opted_out "O"\nfact newsletter_form') + rules
    assert [f.code for f in findings(text)] == []


def test_a_shadowed_allow_is_reported_once_as_shadowed_not_as_a_conflict() -> None:
    assert [f.code for f in findings(HEAD + ALLOW + "  deny use of email if newsletter_form\n")] == \
        ["lint.shadowed_rule"]


def test_no_conflict_between_different_actions_or_disjoint_flows() -> None:
    text = HEAD.replace('source contact "Contact form"\n', 'source contact "Contact form"\nsource forum "F"\n')
    text += ALLOW + "  deny collect of email from contact\n  deny use of email from forum\n"
    assert [f.code for f in findings(text)] == []


def test_duplicate_rule_written_differently_points_at_the_first() -> None:
    f = one(HEAD + ALLOW + ALLOW.replace("if newsletter_form", "if not not newsletter_form"), "lint.duplicate_rule")
    assert where(f) == ("lint.duplicate_rule", LINE + 1, 3)
    assert [r.line for r in f.related] == [LINE]
    assert f"line {LINE}" in f.diagnostic.message


def test_duplicate_that_differs_in_basis_says_so() -> None:
    f = one(HEAD + ALLOW + ALLOW.replace("consent", "contract"), "lint.duplicate_rule")
    assert "only the basis differs: consent and contract" in f.diagnostic.message


# ---- vocabulary and structure -------------------------------------------------------------------


@pytest.mark.parametrize(("decl", "column"), [('data phone "P"\n', 6), ('purpose support "S"\n', 9),
                                              ('fact other "O"\n', 6)])
def test_unused_term_is_the_checkers_one_finding(decl: str, column: int) -> None:
    """One definition (the checker's) and one code: lint reports the checker's warning, once."""
    text = decl + HEAD + ALLOW
    f = one(text, "check.unused_term")
    assert where(f) == ("check.unused_term", 1, column)
    assert [d.code for d in load_text(text, "l.policy").warnings] == ["check.unused_term"]
    assert ALIASES["lint.unused_term"] == "check.unused_term" and "lint.unused_term" not in CODES


def test_a_term_a_statement_names_or_names_a_child_of_is_in_use() -> None:
    child = HEAD.replace('purpose marketing "Marketing"\n',
                         'purpose marketing "Marketing"\npurpose marketing.news "N"\n')
    assert findings(child + ALLOW.replace("for marketing", "for marketing.news")) == []  # keeps its parent
    right = HEAD.replace('fact newsletter_form', 'fact resident "R"\nfact newsletter_form') + ALLOW + \
        '  right access if resident via "e-mail"\n'
    assert findings(right) == []  # a fact a right's condition reads is in use, though no rule reads it
    # the parent's rule answers questions about the child, but no statement names the child
    assert [f.code for f in findings(child + ALLOW)] == ["check.unused_term"]


def test_empty_section_at_its_title() -> None:
    f = one(HEAD + ALLOW + 'section "Nothing here":\n'
            '  expect deny: use of email from contact for marketing given nothing\n', "lint.empty_section")
    assert where(f) == ("lint.empty_section", LINE + 1, 9)
    assert "Nothing here" in f.diagnostic.message


def test_a_section_whose_comment_says_why_nothing_is_encoded_is_not_empty() -> None:
    body = 'section "Contact Us":\n  # not encodable: the addresses are in the header\nsection "Next":\n'
    assert [f.code for f in findings(HEAD + ALLOW + body)] == ["lint.empty_section"]  # only "Next"


def test_missing_basis_for_use_and_share_not_collect() -> None:
    text = HEAD.replace('fact', 'recipient partner "P"\nfact') + \
        "  allow collect of email from contact\n  allow share of email with partner\n" + ALLOW
    out = findings(text)
    assert [where(f) for f in out] == [("lint.missing_basis", LINE + 2, 3)]
    assert "share" in out[0].diagnostic.message


def test_consent_without_condition() -> None:
    f = one(HEAD + ALLOW + "  allow use of email from contact basis consent\n", "lint.consent_without_condition")
    assert where(f) == ("lint.consent_without_condition", LINE + 1, 3)


def test_missing_retention_at_the_data_declaration() -> None:
    text = ('data email "E"\ndata phone "P"\ndata phone.mobile "M"\nsource contact "C"\nsection "S":\n'
            '  allow collect of email, phone from contact\n  retention of email: "a year"\n')
    out = findings(text)
    assert [where(f) for f in out] == [("lint.missing_retention", 2, 6), ("check.unused_term", 3, 6),
                                       ("lint.missing_retention", 3, 6)]
    covered = text.replace('retention of email: "a year"', 'retention of email, phone: "a year"')
    assert [f.code for f in findings(covered)] == ["check.unused_term"]  # a retention of the parent covers the child


def test_constant_condition_always_true() -> None:
    f = one(HEAD + ALLOW.replace("if newsletter_form", "if newsletter_form or not newsletter_form"),
            "lint.constant_condition")
    column = ALLOW.index("newsletter_form") + 1
    assert where(f) == ("lint.constant_condition", LINE, column)
    assert "always true" in f.diagnostic.message and f.diagnostic.severity is Severity.WARNING


def test_findings_are_sorted_by_position() -> None:
    text = 'data phone "P"\n' + HEAD + ALLOW + "  allow use of email from contact basis consent\n" + ALLOW
    lines = [f.diagnostic.line for f in findings(text)]
    assert lines == sorted(lines) and len(lines) == 3


def test_open_e_has_no_errors() -> None:
    out = lint(load_path(OPEN_E))
    assert [f.render() for f in out if f.diagnostic.is_error] == []
    assert {f.code for f in out} <= set(CODES)


def test_a_purpose_on_a_collect_rule_is_the_fail_closed_trap() -> None:
    """`allow collect ... for marketing` never answers a collect question (which names no
    purpose): the symptom is a deny; lint says why and where the purpose belongs."""
    rule = "  allow collect of email from contact for marketing\n"
    f = one(HEAD + ALLOW + rule, "lint.purpose_on_collect")
    assert where(f) == ("lint.purpose_on_collect", LINE + 1, 3)
    assert f.diagnostic.help is not None and "`for marketing`" in f.diagnostic.help
    loaded = load_text(HEAD + ALLOW + rule, "l.policy")
    from policy_engine.engine.query import Query

    assert loaded.decide(Query(action="collect", data="email", source="contact")).decision == "deny"
    assert findings(HEAD + ALLOW + rule.replace(" for marketing", "")) == []
