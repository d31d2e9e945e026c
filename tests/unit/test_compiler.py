"""compiler: vocabulary, rule table, graph and decision index of a small policy."""

from __future__ import annotations

import networkx as nx
import pytest

from policy_engine import api
from policy_engine.engine.compiler import ALL_DATA_NODE, PASSES, bits, compile_policy

TEXT = """policy "Small"
data email "E-mail"
data cookie "Cookies"
data cookie.analytics "Analytics cookies"
source contact "Contact"
source forum "Forum"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
purpose support "Support"
recipient partner "Partner"
fact consent "Consent"

section "Marketing":
  allow use of email from contact for marketing if consent basis consent
  deny use of email from forum for marketing

section "Sharing":
  allow share of all data with partner
  allow collect of cookie from contact
"""


@pytest.fixture(scope="module")
def compiled():  # type: ignore[no-untyped-def]
    result = api.check_text(TEXT, "small.policy")
    assert result.ok
    return compile_policy(result.policy, result.source)  # type: ignore[arg-type]


def test_passes_are_named_and_ordered() -> None:
    assert [name for name, _ in PASSES] == ["resolve_vocabulary", "collect_rules", "build_graph", "build_index"]


def test_rule_table_keeps_location_text_and_condition(compiled) -> None:  # type: ignore[no-untyped-def]
    first, deny, share, collect = compiled.rules
    assert (first.effect, first.action, first.data, first.sources, first.purposes) == (
        "allow", "use", ("email",), ("contact",), ("marketing",))
    assert first.line == 14 and first.section == "Marketing" and first.basis == "consent"
    assert first.text == "allow use of email from contact for marketing if consent basis consent"
    assert first.condition_text == "consent" and first.facts == {"consent"}
    assert first.holds(frozenset({"consent"})) and not first.holds(frozenset())
    assert deny.predicate is None and deny.holds(frozenset())
    assert share.data is None and share.recipients == ("partner",)
    assert compiled.name == "Small" and compiled.metadata["name"] == "Small"


def test_vocabulary_is_read_only_with_hierarchy(compiled) -> None:  # type: ignore[no-untyped-def]
    vocab = compiled.vocabulary
    assert vocab.terms["purpose"]["marketing.newsletter"].parent == "marketing"
    assert vocab.ancestors[("data", "cookie.analytics")] == ("cookie.analytics", "cookie")
    assert vocab.counts() == {"data": 3, "source": 2, "purpose": 3, "recipient": 1, "fact": 1}
    assert vocab.suggest("purpose", "marketting")[0] == "marketing"
    assert vocab.suggest("purpose", "newsletter") == ["marketing.newsletter"]
    with pytest.raises(TypeError):
        vocab.terms["data"]["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        vocab.terms.pop("data")


def test_graph_has_typed_nodes_hierarchy_and_rule_edges(compiled) -> None:  # type: ignore[no-untyped-def]
    g = compiled.graph
    assert nx.is_frozen(g)
    assert g.nodes["purpose:marketing.newsletter"]["kind"] == "purpose"
    assert g.has_edge("purpose:marketing", "purpose:marketing.newsletter", key="narrower")
    edges = g.get_edge_data("data:email", "purpose:marketing")
    assert {e["effect"] for e in edges.values()} == {"allow", "deny"}
    allow = edges["rule0"]
    assert allow == {"relation": "rule", "rule": 0, "effect": "allow", "action": "use", "condition": "consent",
                     "basis": "consent", "file": "small.policy", "line": 14, "section": "Marketing"}
    assert g.has_edge("source:contact", "purpose:marketing", key="rule0")
    assert g.has_edge(ALL_DATA_NODE, "recipient:partner", key="rule2")
    assert g.has_edge("data:cookie", "action:collect", key="rule3")


def test_index_bitsets_follow_spec_matching(compiled) -> None:  # type: ignore[no-untyped-def]
    idx = compiled.index

    def match(*args) -> list[int]:  # type: ignore[no-untyped-def]
        return list(bits(idx.match(*args)))

    assert match("use", "email", "contact", "marketing", None) == [0]
    assert match("use", "email", "contact", "marketing.newsletter", None) == [0]  # a child is covered
    assert match("use", "email", "forum", "marketing.newsletter", None) == [1]
    assert match("use", "email", None, "marketing", None) == [1]  # a missing source: the deny only
    assert match("use", "email", "contact", "support", None) == []
    assert match("share", "cookie.analytics", None, None, "partner") == [2]  # all data, open source
    assert match("collect", "cookie.analytics", "contact", None, None) == [3]
    assert match("collect", "email", "contact", None, None) == []
    assert list(bits(idx.denies)) == [1] and list(bits(idx.allows)) == [0, 2, 3]


def test_bits_lists_indices_in_order() -> None:
    assert bits(0) == [] and bits(0b101001) == [0, 3, 5] and bits(1 << 200) == [200]
    wide = [3, 8, 9, 4095, 4096, 7000, 10_007]
    assert bits(sum(1 << i for i in wide)) == wide  # the byte-scanning path
    assert bits(sum(1 << i for i in range(5000))) == list(range(5000))
