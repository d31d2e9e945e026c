"""printer.py: AST -> canonical text; the text reads back as the same AST."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policy_engine.language import ast
from policy_engine.language.parser import parse_text
from policy_engine.language.printer import format_condition, format_item, format_policy, format_query, format_rule, quote

from paths import CASES, FIXTURES, OPEN_E


def F(name: str) -> ast.FactRef:
    return ast.FactRef(name=name)


def T(term_id: str) -> ast.TermRef:
    return ast.TermRef(id=term_id)


def reparse(text: str) -> ast.PolicyFile:
    result = parse_text(text)
    assert not [d for d in result.diagnostics if d.is_error], [d.render() for d in result.diagnostics]
    assert result.policy is not None
    return result.policy


@pytest.mark.parametrize(
    ("text", "want"),
    [("plain", '"plain"'), ('say "hi"', r'"say \"hi\""'), ("a\\b", r'"a\\b"'), ("", '""'), ("\\", r'"\\"'),
     ("Zürich 😀", '"Zürich 😀"')],
)
def test_quote(text: str, want: str) -> None:
    assert quote(text) == want
    assert reparse(f"data x {quote(text)}\n").terms[0].label == text


@pytest.mark.parametrize(
    ("cond", "want"),
    [
        (F("a"), "a"),
        (ast.Not(operand=F("a")), "not a"),
        (ast.Not(operand=ast.Not(operand=F("a"))), "not not a"),
        (ast.And(operands=(F("a"), F("b"), F("c"))), "a and b and c"),
        (ast.Or(operands=(F("a"), ast.And(operands=(F("b"), ast.Not(operand=F("c")))))), "a or (b and not c)"),
        (ast.And(operands=(ast.Or(operands=(F("a"), F("b"))), F("c"))), "(a or b) and c"),
        (ast.Not(operand=ast.Or(operands=(F("a"), F("b")))), "not (a or b)"),
        (ast.Not(operand=ast.And(operands=(F("a"), F("b")))), "not (a and b)"),
    ],
)
def test_format_condition(cond: ast.Condition, want: str) -> None:
    assert format_condition(cond) == want
    rule = reparse(f'section "S":\n  allow use of x if {want}\n').sections[0].items[0]
    assert isinstance(rule, ast.Rule) and rule.condition == cond


def test_format_rule_on_one_line_in_clause_order() -> None:
    rule = ast.Rule(effect="allow", action="share", data=(T("email"), T("name")), sources=(T("contact"),),
                    purposes=(T("marketing"),), recipients=(T("partner"),), condition=F("a"), basis=T("consent"))
    assert format_rule(rule) == ("allow share of email, name from contact for marketing with partner if a "
                                 "basis consent")
    assert format_rule(ast.Rule(effect="deny", action="retain", data=None)) == "deny retain of all data"


def test_short_rule_item_stays_on_one_line() -> None:
    rule = ast.Rule(effect="allow", action="use", data=(T("email"),), purposes=(T("marketing"),))
    assert format_item(rule) == "allow use of email for marketing"


def test_long_rule_item_wraps_with_deeper_indentation_and_reads_back() -> None:
    long_ids = tuple(T(f"purpose_number_{i}") for i in range(6))
    rule = ast.Rule(effect="allow", action="use", data=(T("email"),), sources=(T("contact"),), purposes=long_ids,
                    condition=ast.Or(operands=(F("a"), F("b"))), basis=T("consent"))
    text = format_item(rule)
    first, *rest = text.split("\n")
    assert rest, "a long rule is wrapped"
    assert first.startswith("allow use of email")
    policy = ast.PolicyFile(sections=(ast.Section(title="S", items=(rule,)),))
    lines = format_policy(policy).splitlines()
    item_indent = len(lines[1]) - len(lines[1].lstrip())
    assert all(len(line) - len(line.lstrip()) > item_indent for line in lines[2:])
    assert reparse(format_policy(policy)) == policy


@pytest.mark.parametrize(
    ("facts", "tail"),
    [(None, ""), ((), " given nothing"), ((T("a"),), " given a"), ((T("a"), T("b")), " given a, b")],
)
def test_format_query_given(facts: tuple[ast.TermRef, ...] | None, tail: str) -> None:
    q = ast.Query(action="use", data=T("email"), source=T("contact"), purpose=T("marketing"), recipient=T("p"),
                  facts=facts)
    assert format_query(q) == "use of email from contact for marketing with p" + tail


def test_format_items() -> None:
    exp = ast.Expectation(decision="conditional", query=ast.Query(action="retain", data=T("email")),
                          requires=ast.Or(operands=(F("a"), F("b"))))
    assert format_item(exp) == "expect conditional: retain of email requires a or b"
    assert format_item(ast.Right(right=T("erasure"), channels=("a@b", 'the "page"'))) == \
        r'right erasure via "a@b", "the \"page\""'
    assert format_item(ast.Retention(data=None, period="1 year")) == 'retention of all data: "1 year"'
    assert format_item(ast.Retention(data=(T("a"), T("b")), period="x")) == 'retention of a, b: "x"'
    assert format_item(ast.Security(measures=("tls", "backups"))) == 'security "tls", "backups"'


def test_format_item_rejects_other_nodes() -> None:
    with pytest.raises(TypeError):
        format_item(T("x"))  # type: ignore[arg-type]


def test_empty_policy() -> None:
    assert format_policy(ast.PolicyFile()) == "\n"
    assert reparse(format_policy(ast.PolicyFile())) == ast.PolicyFile()


def test_policy_layout() -> None:
    policy = ast.PolicyFile(
        meta=ast.Metadata(name="P", contact="c@x", updated=dt.date(2018, 5, 25)),
        terms=(ast.TermDecl(kind="data", id="email", label="E"), ast.TermDecl(kind="data", id="name", label="N"),
               ast.TermDecl(kind="purpose", id="m", label="M"), ast.TermDecl(kind="data", id="late", label="L")),
        sections=(ast.Section(title="One", items=(ast.Security(measures=("tls",)),)), ast.Section(title="Two")),
    )
    assert format_policy(policy) == (
        'policy "P"\n'
        '  contact "c@x"\n'
        "  updated 2018-05-25\n"
        "\n"
        'data email "E"\n'
        'data name "N"\n'
        "\n"
        'purpose m "M"\n'
        "\n"
        'data late "L"\n'
        "\n"
        'section "One":\n'
        '  security "tls"\n'
        "\n"
        'section "Two":\n'
    )
    assert reparse(format_policy(policy)) == policy


def _parses_cleanly(case: Path) -> bool:
    """A golden check case whose expectation names no parse.* code."""
    want = case.with_suffix(".yaml")
    return want.exists() and "parse." not in want.read_text(encoding="utf-8")


def _golden_texts() -> list[Path]:
    cases = [p for p in sorted((CASES / "check").rglob("*.policy")) if _parses_cleanly(p)]
    return cases + sorted(FIXTURES.glob("*.policy")) + ([OPEN_E] if OPEN_E.exists() else [])


@pytest.mark.parametrize("path", _golden_texts(), ids=lambda p: p.name)
def test_format_reads_back_as_the_same_policy(path: Path) -> None:
    """Habit 7 of STYLE.md: parse(fmt(s)) == parse(s) on every file that parses."""
    result = parse_text(path.read_text(encoding="utf-8"))
    assert result.policy is not None and not [d for d in result.diagnostics if d.code.startswith("parse.")]
    formatted = format_policy(result.policy)
    assert reparse(formatted) == result.policy
    assert format_policy(reparse(formatted)) == formatted
