"""compiler: vocabulary, rule table, graph and decision index of a small policy."""

from __future__ import annotations

import networkx as nx
import pytest

from policy_engine import api
from policy_engine.engine.compiler import ALL_DATA_NODE, PASSES, bits, compile_policy

from paths import SMALL, line_of

# The rule statements of tests/fixtures/small.policy in file order: rule i of the table is RULES[i].
RULES = [line.strip() for line in SMALL.read_text(encoding="utf-8").splitlines()
         if line.strip().startswith(("allow ", "deny "))]
CONSENT = RULES.index("allow use of email from contact for marketing if consent basis consent")
WITHDRAWN = RULES.index("deny use of email for marketing if withdrawn")
FORUM = RULES.index("deny use of email from forum for marketing")
OFFERS = RULES.index("allow use of email from contact for marketing.offers")
SUPPORT = RULES.index("allow use of email for support")
PARTNER = RULES.index("allow share of cookie with partner")
AUTHORITY = RULES.index("allow share of all data with authority if law")
COLLECT = RULES.index("allow collect of cookie from contact")


@pytest.fixture(scope="module")
def compiled(small_text: str):  # type: ignore[no-untyped-def]
    result = api.check_text(small_text, "small.policy")
    assert result.ok
    return compile_policy(result.policy, result.source)  # type: ignore[arg-type]


def test_passes_are_named_and_ordered() -> None:
    assert [name for name, _ in PASSES] == ["resolve_vocabulary", "collect_rules", "build_index"]


def test_the_graph_is_built_on_first_use_and_once(small_text: str) -> None:
    """Deciding never reads the graph, so loading does not build it; the data map does, once."""
    policy = api.loads(small_text, "small.policy")
    compiled = policy.compiled
    assert policy.decide({"action": "use", "data": "email", "purpose": "support"}).decision == "allow"
    assert "graph" not in vars(compiled)
    graph = compiled.graph
    assert compiled.graph is graph and graph.number_of_edges() > 0


def test_rule_table_keeps_location_text_and_condition(compiled) -> None:  # type: ignore[no-untyped-def]
    assert [rule.text for rule in compiled.rules] == RULES  # one row a rule, in file order
    first, deny, share = compiled.rules[CONSENT], compiled.rules[FORUM], compiled.rules[AUTHORITY]
    assert (first.effect, first.action, first.data, first.sources, first.purposes) == (
        "allow", "use", ("email",), ("contact",), ("marketing",))
    assert first.line == line_of(SMALL, RULES[CONSENT]) and first.section == "Marketing" and first.basis == "consent"
    assert first.condition_text == "consent" and first.facts == {"consent"}
    assert first.holds(frozenset({"consent"})) and not first.holds(frozenset())
    assert deny.predicate is None and deny.holds(frozenset())
    assert share.data is None and share.recipients == ("authority",)
    assert compiled.name == "Small" and compiled.metadata["name"] == "Small"


def test_vocabulary_is_read_only_with_hierarchy(compiled) -> None:  # type: ignore[no-untyped-def]
    vocab = compiled.vocabulary
    assert vocab.terms["purpose"]["marketing.newsletter"].parent == "marketing"
    assert vocab.ancestors[("data", "cookie.analytics")] == ("cookie.analytics", "cookie")
    assert vocab.counts() == {"data": 3, "source": 2, "purpose": 4, "recipient": 3, "fact": 3}
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
    allow = edges[f"rule{CONSENT}"]
    assert allow == {"relation": "rule", "rule": CONSENT, "effect": "allow", "action": "use", "condition": "consent",
                     "basis": "consent", "file": "small.policy", "line": line_of(SMALL, RULES[CONSENT]),
                     "section": "Marketing"}
    assert g.has_edge("source:contact", "purpose:marketing", key=f"rule{CONSENT}")
    assert g.has_edge(ALL_DATA_NODE, "recipient:authority", key=f"rule{AUTHORITY}")
    assert g.has_edge("data:cookie", "action:collect", key=f"rule{COLLECT}")


def test_index_bitsets_follow_spec_matching(compiled) -> None:  # type: ignore[no-untyped-def]
    idx = compiled.index

    def match(*args) -> list[int]:  # type: ignore[no-untyped-def]
        return list(bits(idx.match(*args)))

    assert match("use", "email", "contact", "marketing", None) == [CONSENT, WITHDRAWN]
    assert match("use", "email", "contact", "marketing.newsletter", None) == [CONSENT, WITHDRAWN]  # a child is covered
    assert match("use", "email", "forum", "marketing.newsletter", None) == [WITHDRAWN, FORUM]
    assert match("use", "email", None, "marketing", None) == [WITHDRAWN, FORUM]  # a missing source: the denies only
    assert match("use", "email", "contact", "support", None) == [SUPPORT]  # a sibling purpose: its own rule only
    assert match("share", "cookie.analytics", None, None, "partner") == [PARTNER]  # a child datum is covered
    assert match("share", "cookie.analytics", None, None, "authority") == [AUTHORITY]  # all data, open source
    assert match("collect", "cookie.analytics", "contact", None, None) == [COLLECT]
    assert match("collect", "email", "contact", None, None) == []
    assert list(bits(idx.denies)) == [WITHDRAWN, FORUM]
    assert list(bits(idx.allows)) == [CONSENT, OFFERS, SUPPORT, PARTNER, AUTHORITY, COLLECT]


def test_bits_lists_indices_in_order() -> None:
    assert bits(0) == [] and bits(0b101001) == [0, 3, 5] and bits(1 << 200) == [200]
    wide = [3, 8, 9, 4095, 4096, 7000, 10_007]
    assert bits(sum(1 << i for i in wide)) == wide  # the byte-scanning path
    assert bits(sum(1 << i for i in range(5000))) == list(range(5000))
