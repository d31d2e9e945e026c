"""The printer's law: `parse(format(p)) == p` for every well-formed AST, and format is idempotent."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from policy_engine.language import ast
from policy_engine.language.parser import parse_text
from policy_engine.language.printer import format_condition, format_policy, format_rule

from .strategies import KEYWORDS, conditions, policies, rules, term_ids


def _parse_clean(text: str) -> ast.PolicyFile:
    result = parse_text(text, "fmt.policy")
    errors = [d.render() for d in result.diagnostics if d.is_error]
    assert not errors, "\n".join(errors) + "\n--- text ---\n" + text
    assert result.policy is not None
    return result.policy


@example(ast.PolicyFile())
@example(ast.PolicyFile(meta=ast.Metadata(name='"\\', updated=None)))
@given(policies)
def test_parse_of_format_is_identity(policy: ast.PolicyFile) -> None:
    text = format_policy(policy)
    assert _parse_clean(text) == policy


@given(policies)
def test_format_is_idempotent(policy: ast.PolicyFile) -> None:
    once = format_policy(policy)
    twice = format_policy(_parse_clean(once))
    assert twice == once
    assert once.endswith("\n") and not once.endswith("\n\n")


@given(rules)
def test_one_line_rule_text_reads_back(rule: ast.Rule) -> None:
    """Decision reasons quote `format_rule`; the quote is itself a valid statement."""
    line = format_rule(rule)
    assert "\n" not in line
    policy = _parse_clean('section "S":\n  ' + line + "\n")
    assert policy.sections[0].items == (rule,)


@given(conditions)
def test_condition_text_reads_back(cond: ast.Condition) -> None:
    policy = _parse_clean(f'section "S":\n  allow use of x if {format_condition(cond)}\n')
    rule = policy.sections[0].items[0]
    assert isinstance(rule, ast.Rule) and rule.condition == cond


@given(term_ids)
def test_generated_ids_avoid_keywords(term_id: str) -> None:
    assert not set(term_id.split(".")) & KEYWORDS


def test_keywords_cover_the_grammar() -> None:
    assert {"allow", "deny", "not", "nothing", "conditional", "data", "all", "of", "to", "basis", "via"} <= KEYWORDS
    assert "email" not in KEYWORDS


@given(st.data())
def test_and_or_are_well_formed(data: st.DataObject) -> None:
    cond = data.draw(conditions)
    stack = [cond]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.And, ast.Or)):
            assert len(node.operands) >= 2
            assert not any(type(o) is type(node) for o in node.operands)
            stack.extend(node.operands)
        elif isinstance(node, ast.Not):
            stack.append(node.operand)
