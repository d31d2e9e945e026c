"""checker.py: behaviour of the checks, beyond the golden cases' codes and positions."""

from __future__ import annotations

import pytest

from policy_engine.language import ast
from policy_engine.language.checker import check, suggest
from policy_engine.language.logic import evaluate, satisfiable
from policy_engine.language.diagnostics import Diagnostic, Severity
from policy_engine.language.parser import parse_text
from policy_engine.language.source import Source


def diags(text: str) -> list[Diagnostic]:
    result = parse_text(text, "c.policy")
    assert result.diagnostics == [], [d.render() for d in result.diagnostics]
    assert result.policy is not None
    return check(result.policy, result.source)


def codes(text: str) -> list[str]:
    return [d.code for d in diags(text)]


def one(text: str, code: str) -> Diagnostic:
    found = [d for d in diags(text) if d.code == code]
    assert len(found) == 1, found
    return found[0]


BASE = """\
data email "E"
source contact "C"
purpose marketing "M"
purpose marketing.newsletter "N"
recipient partner "P"
fact newsletter_form "F"
fact notification_settings "S"
"""

USE_ALL = """\
section "S":
  allow collect of email from contact
  allow share of email for marketing.newsletter with partner if newsletter_form or notification_settings
"""


def test_base_policy_is_clean() -> None:
    assert diags(BASE + USE_ALL) == []


def test_same_id_as_two_kinds_is_allowed() -> None:
    text = ('data email "E"\npurpose corporate_transaction "P"\nfact corporate_transaction "F"\n'
            'section "S":\n  allow use of email for corporate_transaction if corporate_transaction\n')
    assert diags(text) == []


def test_same_id_same_kind_is_a_duplicate_naming_the_first_line() -> None:
    d = one('data email "E"\n\ndata email "again"\nsection "S":\n  allow use of email\n', "check.duplicate_term")
    assert d.line == 3
    assert d.help is not None and "line 1" in d.help


def test_used_child_keeps_parent_and_grandparent_used() -> None:
    text = ('data email "E"\npurpose m "M"\npurpose m.n "N"\npurpose m.n.o "O"\n'
            'section "S":\n  allow use of email for m.n.o\n')
    assert diags(text) == []


def test_used_parent_does_not_keep_child_used() -> None:
    text = 'data email "E"\npurpose m "M"\npurpose m.n "N"\nsection "S":\n  allow use of email for m\n'
    d = one(text, "check.unused_term")
    assert d.severity is Severity.WARNING
    assert "m.n" in d.message


def test_use_of_a_child_keeps_only_ancestors_of_the_same_kind() -> None:
    text = ('data m "D"\npurpose m "M"\npurpose m.n "N"\nsection "S":\n  allow use of m for m.n\n')
    assert diags(text) == []
    text = ('data m "D"\ndata m.x "D"\npurpose m "M"\nsection "S":\n  allow use of m.x\n')
    d = one(text, "check.unused_term")
    assert "purpose `m`" in d.message


@pytest.mark.parametrize(
    ("statement", "code", "suggestion"),
    [
        ("allow use of emial", "check.unknown_term", "`email`"),
        ("allow use of email for marketting", "check.unknown_term", "`marketing`"),
        ("allow collect of email from contakt", "check.unknown_term", "`contact`"),
        ("allow share of email with partnr", "check.unknown_term", "`partner`"),
        ("allow use of email if newsletter_from", "check.unknown_fact", "`newsletter_form`"),
        ("expect deny: use of email for marketing given newsleter_form", "check.unknown_fact", "`newsletter_form`"),
        ("expect conditional: use of email for marketing requires notification_setting", "check.unknown_fact",
         "`notification_settings`"),
        ("allow use of email basis legitimate_interest", "check.unknown_basis", "`legitimate_interests`"),
        ('right portabilty via "x"', "check.unknown_right", "`portability`"),
        ('retention of emails: "1 year"', "check.unknown_term", "`email`"),
    ],
)
def test_did_you_mean(statement: str, code: str, suggestion: str) -> None:
    d = one(BASE + USE_ALL + f"  {statement}\n", code)
    assert d.help is not None and d.help.startswith("did you mean") and suggestion in d.help


def test_suggestions_stay_within_the_kind() -> None:
    # `contacts` is close to the source `contact`, but a purpose is wanted here.
    d = one(BASE + USE_ALL + "  allow use of email for contacts\n", "check.unknown_term")
    assert d.help is not None and "contact" not in d.help.split("declare")[0]
    assert 'purpose contacts "Label"' in d.help


def test_unknown_term_without_close_match_says_how_to_declare() -> None:
    d = one(BASE + USE_ALL + "  allow use of xyzzy\n", "check.unknown_term")
    assert d.help == 'declare it first: data xyzzy "Label"'


def test_wrong_kind_names_both_kinds() -> None:
    d = one(BASE + USE_ALL + "  allow use of email for contact\n", "check.wrong_kind")
    assert "a source" in d.message and "a purpose" in d.message
    d = one(BASE + USE_ALL + "  allow use of email if marketing\n", "check.wrong_kind")
    assert "a purpose" in d.message and "a fact" in d.message


def test_missing_parent_at_every_level() -> None:
    text = 'data a.b.c "C"\nsection "S":\n  allow use of a.b.c\n'
    assert codes(text) == ["check.missing_parent"]
    text = 'data a "A"\ndata a.b.c "C"\nsection "S":\n  allow use of a.b.c\n'
    assert codes(text) == ["check.missing_parent"]
    text = 'data a.b "B"\ndata a.b.c "C"\nsection "S":\n  allow use of a.b.c\n'
    assert codes(text) == ["check.missing_parent"]
    text = 'data a "A"\ndata a.b "B"\ndata a.b.c "C"\nsection "S":\n  allow use of a.b.c\n'
    assert codes(text) == []


def test_parent_must_have_the_same_kind() -> None:
    text = 'data email "E"\ndata m "D"\npurpose m.n "N"\nsection "S":\n  allow use of email for m.n\n  allow use of m\n'
    assert codes(text) == ["check.missing_parent"]


def test_references_in_every_position_are_resolved() -> None:
    text = BASE + USE_ALL + (
        "  deny use of a1 from a2 for a3 with a4 if a5\n"
        "  expect deny: share of b1 from b2 for b3 with b4 given b5\n"
        "  expect conditional: use of email for marketing requires b6\n"
        '  retention of b7: "x"\n'
    )
    unknown = sorted(d.message.split("`")[1] for d in diags(text) if d.code.startswith("check.unknown_"))
    assert unknown == ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", "b4", "b5", "b6", "b7"]


@pytest.mark.parametrize(
    ("cond", "unsat"),
    [
        ("newsletter_form and not newsletter_form", True),
        ("not (newsletter_form or not newsletter_form)", True),
        ("(newsletter_form or notification_settings) and not newsletter_form and not notification_settings", True),
        ("newsletter_form or not newsletter_form", False),
        ("newsletter_form and not notification_settings", False),
        ("not not newsletter_form", False),
    ],
)
def test_unsatisfiable_condition(cond: str, unsat: bool) -> None:
    got = codes(BASE + USE_ALL + f"  allow use of email for marketing if {cond}\n")
    assert got == (["check.unsatisfiable_condition"] if unsat else [])


def test_satisfiability_is_exact_beyond_the_truth_table_limit() -> None:
    names = [f"f{i}" for i in range(40)]
    cond = ast.And(operands=(*(ast.FactRef(name=n) for n in names), ast.Not(operand=ast.FactRef(name="f0"))))
    assert satisfiable(cond) is False
    assert satisfiable(ast.And(operands=tuple(ast.FactRef(name=n) for n in names))) is True
    small = ast.And(operands=(ast.FactRef(name="a"), ast.Not(operand=ast.FactRef(name="a"))))
    assert satisfiable(small) is False
    assert satisfiable(ast.FactRef(name="a")) is True


def test_evaluate() -> None:
    cond = ast.Or(operands=(ast.FactRef(name="a"), ast.And(operands=(ast.FactRef(name="b"),
                                                                    ast.Not(operand=ast.FactRef(name="c"))))))
    assert evaluate(cond, {"a"})
    assert evaluate(cond, {"b"})
    assert not evaluate(cond, {"b", "c"})
    assert not evaluate(cond, set())


def test_suggest_is_ranked_and_bounded() -> None:
    assert suggest("marketting", ["marketing", "market", "analytics"])[0] == "marketing"
    assert suggest("zzz", ["marketing"]) == []
    assert len(suggest("aaa", ["aab", "aac", "aad", "aae"], n=3)) == 3


def test_repeated_term_in_each_dimension_is_a_warning() -> None:
    text = BASE + USE_ALL + (
        "  allow share of email, email from contact, contact for marketing, marketing to partner, partner\n"
    )
    found = [d for d in diags(text) if d.code == "check.repeated_term"]
    assert len(found) == 4
    assert all(d.severity is Severity.WARNING for d in found)


def test_every_incomplete_action() -> None:
    text = BASE + USE_ALL + (
        "  expect deny: collect of email\n"
        "  expect deny: use of email\n"
        "  expect deny: share of email\n"
        "  expect deny: retain of email\n"
    )
    first = (BASE + USE_ALL).count("\n") + 1
    assert [d.line for d in diags(text) if d.code == "check.incomplete_question"] == [first, first + 1, first + 2]


def test_diagnostics_come_sorted() -> None:
    text = BASE + USE_ALL + "  allow use of zzz2\n  allow use of zzz1 basis nope\n"
    got = diags(text)
    starts = [d.span.start for d in got if d.span]
    assert starts == sorted(starts) and len(got) == 3


def test_checker_accepts_a_built_ast_without_spans() -> None:
    policy = ast.PolicyFile(
        terms=(ast.TermDecl(kind="data", id="email", label="E"), ast.TermDecl(kind="data", id="email", label="E"),
               ast.TermDecl(kind="purpose", id="m.n", label="N")),
        sections=(ast.Section(title="S", items=(
            ast.Rule(effect="allow", action="use", data=(ast.TermRef(id="emial"),), basis=ast.TermRef(id="x"),
                     condition=ast.And(operands=(ast.FactRef(name="a"), ast.Not(operand=ast.FactRef(name="a"))))),
            ast.Expectation(decision="conditional", query=ast.Query(action="use", data=ast.TermRef(id="email"),
                                                                    facts=())),
            ast.Right(right=ast.TermRef(id="nope"), channels=("x",)),
        )),),
    )
    got = check(policy, Source("", "built"))
    assert {d.code for d in got} >= {"check.duplicate_term", "check.missing_parent", "check.unknown_term",
                                     "check.unknown_basis", "check.unsatisfiable_condition",
                                     "check.conditional_with_facts", "check.incomplete_question",
                                     "check.unknown_right", "check.unknown_fact"}
    for d in got:
        d.render()
        d.to_dict()


def test_a_condition_past_the_bdd_budget_is_check_too_complex() -> None:
    names = [f"v{i:02d}" for i in range(40)]
    far = " or ".join(f"({a} and {b})" for a, b in zip(names[:20], names[20:]))  # doubles with every pair
    text = ('data d "D"\npurpose p "P"\n' + "".join(f'fact {n} "{n}"\n' for n in names)
            + f'section "S":\n  allow use of d for p if {far}\n')
    assert codes(text) == ["check.too_complex"]


def test_rules_of_one_action_past_the_budget_together_are_check_too_complex() -> None:
    names = [f"v{i:02d}" for i in range(40)]
    pairs = [f"({a} and {b})" for a, b in zip(names[:20], names[20:])]
    rules = "".join(f"  allow use of d for p if {' or '.join(pairs[i:i + 4])}\n" for i in range(0, 20, 4))
    text = ('data d "D"\npurpose p "P"\n' + "".join(f'fact {n} "{n}"\n' for n in names) + 'section "S":\n' + rules)
    assert codes(text) == ["check.too_complex"]
