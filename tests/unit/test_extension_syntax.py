"""The constructs for real policies end to end: printed and formatted back to the same AST, the
statements that decide nothing listed, and the rights question answered (Policy.rights)."""

from __future__ import annotations

import pytest

from policy_engine import api
from policy_engine.engine.query import QueryError
from policy_engine.language.formatter import format_text
from policy_engine.language.parser import parse_text
from policy_engine.language.printer import format_policy

from paths import CASES, REPO

GITHUB = REPO / "policies" / "github.policy"
ALL_NEW = CASES / "check" / "check_new_syntax_ok.policy"


@pytest.mark.parametrize("path", [GITHUB, ALL_NEW], ids=["github", "all_new"])
def test_print_and_format_give_back_the_same_policy(path) -> None:  # type: ignore[no-untyped-def]
    text = path.read_text(encoding="utf-8")
    tree = parse_text(text).policy
    assert tree is not None
    assert parse_text(format_policy(tree)).policy == tree
    formatted = format_text(text).text
    assert formatted is not None and parse_text(formatted).policy == tree
    assert format_text(formatted).text == formatted, "not idempotent"


def test_statements_that_decide_nothing_are_listed() -> None:
    listed = api.load(ALL_NEW).statements()["statements"]
    by_kind = {s["statement"]: s for s in listed}
    assert by_kind["processor"] == {"statement": "processor", "text": "for organisation accounts",
                                    "if": "org_account", "section": "Everything new"}
    assert by_kind["effective"]["date"] == "2024-02-01"
    assert by_kind["controlling_language"]["text"] == "English"
    assert by_kind["changes"] == {"statement": "changes", "notice": "P30D", "channels": ["the website", "e-mail"],
                                  "section": "Everything new"}
    assert by_kind["audience"]["audience"] == "resident.eea or resident.us"
    rights = api.load(ALL_NEW).statements()["rights"]
    assert rights[0]["deadline"] == "P45D" and rights[0]["limit"] == "2 per P12M"


@pytest.fixture(scope="module")
def github():  # type: ignore[no-untyped-def]
    return api.load(GITHUB)


def test_a_right_with_a_condition_is_granted_when_it_holds(github) -> None:  # type: ignore[no-untyped-def]
    answer = github.rights({"right": "delete", "facts": ["resident.us.california"]})
    assert (answer.decision, answer.deadline, answer.extension, answer.limit) == ("allow", "P45D", "P45D", "2 per P12M")
    assert answer.channels == ("privacy@github.com",)
    assert {r.rule.split(" if ")[0] for r in answer.exceptions} == {
        "allow retain of all data for legal_obligations", "allow retain of all data for safety_security"}
    assert answer.reasons[0].section == "US State Specific Information / Privacy Rights"
    assert github.rights({"right": "delete", "facts": ["resident.eea"]}).decision == "deny"


def test_a_right_asked_with_facts_unknown_states_its_condition(github) -> None:  # type: ignore[no-untyped-def]
    answer = github.rights({"right": "appeal"})
    assert answer.decision == "conditional"
    assert answer.requires == "resident.us.colorado or resident.us.connecticut or resident.us.virginia"
    assert github.rights({"right": "access"}).decision == "allow"  # stated without a condition
    removal = github.rights({"right": "erasure", "facts": ["resident.us.california", "minor.under_13"]})
    assert removal.decision == "allow"  # under 13 implies under 18; erasure is also stated for everyone


def test_a_right_the_policy_does_not_state_is_denied_without_reasons(github) -> None:  # type: ignore[no-untyped-def]
    answer = github.rights({"right": "limit_sensitive", "facts": []})
    assert (answer.decision, answer.reasons, answer.channels) == ("deny", (), ())


def test_an_unknown_right_or_fact_is_an_error_not_a_deny(github) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as err:
        github.rights({"right": "erasur"})
    assert err.value.code == "query.unknown_term" and err.value.suggestions == ["erasure"]
    with pytest.raises(QueryError) as err:
        github.rights({"right": "delete", "facts": ["resident.us.californa"]})
    assert err.value.code == "query.unknown_term"
    with pytest.raises(QueryError) as err:
        github.rights({"right": "delete", "colour": "red"})
    assert err.value.code == "query.unknown_field"


def test_missing_basis_follows_the_sections_audience() -> None:
    from policy_engine.guard.lint import lint

    text = """data account "Account data"
purpose ads "Advertising"
fact resident "Lives where the policy names"
fact resident.us "Lives in the United States"
fact resident.eea "Lives in the EEA"

section "US State Specific Information":
  audience resident.us
  allow use of account for ads

section "Everyone":
  allow use of account for ads if resident.eea
"""
    findings = [f for f in lint(api.loads(text, "audience.policy")) if f.code == "lint.missing_basis"]
    assert [f.diagnostic.span.start for f in findings] == [text.index("allow use of account for ads if")]
