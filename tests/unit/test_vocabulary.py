"""vocabulary and index: facts that imply facts (docs/semantics.md) and sub-actions (docs/semantics.md), decided."""

from __future__ import annotations

import pytest

from policy_engine import api
from policy_engine.engine.query import QueryError

TEXT = """
data account "Account data"
recipient partner "Partners"
recipient network "Advertising networks"
purpose ads "Advertising"
action share.sell "Selling personal information"
action share.targeted_advertising "Sharing for cross-context behavioural advertising"
fact resident "Lives somewhere the policy names"
fact resident.us "Lives in the US"
fact resident.us.california "Lives in California"
fact minor "Known to be a minor"
fact minor.under_18 "Known to be under 18"
fact minor.under_16 "Known to be under 16" implies minor.under_18
fact minor.under_13 "Known to be under 13" implies minor.under_16
fact gpc "Global Privacy Control"

section "Sharing":
  allow share of account with partner, network
  deny share.sell of all data
  deny share.targeted_advertising of all data if minor.under_16 or gpc
  allow use of account for ads if resident.us
  deny use of account for ads if minor.under_18
"""


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    return api.loads(TEXT, "ext.policy")


def ask(policy, **q):  # type: ignore[no-untyped-def]
    return policy.decide({"data": "account", **q})


def test_closure_holds_ancestors_and_declared_implications(policy) -> None:  # type: ignore[no-untyped-def]
    vocab = policy.compiled.vocabulary
    assert vocab.close(frozenset({"minor.under_13"})) == {"minor.under_13", "minor.under_16", "minor.under_18", "minor"}
    assert vocab.close(frozenset({"resident.us.california"})) == {"resident.us.california", "resident.us", "resident"}
    assert vocab.close(frozenset({"gpc"})) == {"gpc"}
    assert vocab.care(frozenset({"gpc", "minor.under_16"})) is None
    assert vocab.care(frozenset({"minor.under_13", "minor.under_18"})) is not None


def test_a_listed_fact_makes_what_it_implies_hold(policy) -> None:  # type: ignore[no-untyped-def]
    assert ask(policy, action="use", purpose="ads", facts=["resident.us.california"]).decision == "allow"
    assert ask(policy, action="use", purpose="ads", facts=["resident.us.california", "minor.under_13"]).decision == "deny"
    assert ask(policy, action="share.targeted_advertising", recipient="network",
               facts=["minor.under_13"]).decision == "deny"
    assert ask(policy, action="share.targeted_advertising", recipient="network", facts=[]).decision == "allow"


def test_a_rule_on_an_action_covers_its_sub_actions_not_the_reverse(policy) -> None:  # type: ignore[no-untyped-def]
    assert ask(policy, action="share", recipient="partner", facts=[]).decision == "allow"  # the sale deny is not asked
    sale = ask(policy, action="share.sell", recipient="partner", facts=[])
    assert sale.decision == "deny" and [r.rule for r in sale.reasons] == ["deny share.sell of all data"]
    assert ask(policy, action="share.sell", recipient="partner").decision == "deny"


def test_partial_evaluation_ranges_over_closed_assignments(policy) -> None:  # type: ignore[no-untyped-def]
    d = ask(policy, action="share.targeted_advertising", recipient="network")
    assert (d.decision, d.requires) == ("conditional", "not (gpc or minor.under_16)")
    d = ask(policy, action="use", purpose="ads")
    assert (d.decision, d.requires) == ("conditional", "not minor.under_18 and resident.us")


def test_an_undeclared_sub_action_is_an_unknown_action(policy) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as err:
        ask(policy, action="share.rent", recipient="partner")
    assert err.value.code == "query.unknown_action"
    assert "share.sell" in err.value.message
