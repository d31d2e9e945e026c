"""The data map: a data-protection officer's questions, answered over the whole policy."""

from __future__ import annotations

import json

import pytest

import policy_engine
from policy_engine import Policy, QueryError

from paths import SMALL, line_of

# The rules of tests/fixtures/small.policy on (or below) the purpose marketing, and where they stand.
CONSENT, WITHDRAWN, FORUM, OFFERS = (line_of(SMALL, rule) for rule in (
    "allow use of email from contact for marketing if consent basis consent",
    "deny use of email for marketing if withdrawn",
    "deny use of email from forum for marketing",
    "allow use of email from contact for marketing.offers"))


def rows(result) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(r.source, r.purpose, r.recipient, r.data, r.decision, r.requires) for r in result]


def test_uses_lists_purposes_with_conditions_and_folds_repeats(small: Policy) -> None:
    got = rows(small.uses("email"))
    assert (None, "support", None, "email", "allow", None) in got  # any source: no per-source repeats
    assert ("contact", "support", None, "email", "allow", None) not in got
    assert ("contact", "marketing", None, "email", "conditional", "consent and not withdrawn") in got
    assert ("contact", "marketing.newsletter", None, "email", "conditional", "consent and not withdrawn") \
        not in got  # = parent
    # differs from its parent, so it is listed: its own allow needs no consent, only the withdrawal deny is left
    assert ("contact", "marketing.offers", None, "email", "conditional", "not withdrawn") in got
    assert not any(r[0] == "forum" and r[1].startswith("marketing") for r in got)
    assert rows(small.uses("email", "contact", facts=["consent"])) == [
        ("contact", "marketing", None, "email", "allow", None),
        ("contact", "support", None, "email", "allow", None),
    ]


def test_recipients_and_data_for(small: Policy) -> None:
    assert rows(small.recipients("cookie.analytics")) == [
        (None, None, "authority", "cookie.analytics", "conditional", "law"),
        (None, None, "partner", "cookie.analytics", "allow", None),
    ]
    assert rows(small.data_for("partner.ads")) == [(None, None, "partner.ads", "cookie", "allow", None)]
    assert {r[3] for r in rows(small.data_for("authority"))} == {"email", "cookie"}


def test_rules_for_purpose_reads_the_graph(small: Policy) -> None:
    got = [(r.relation, r.line, r.effect) for r in small.rules_for_purpose("marketing")]
    assert got == [("covers", CONSENT, "allow"), ("covers", WITHDRAWN, "deny"), ("covers", FORUM, "deny"),
                   ("narrower", OFFERS, "allow")]
    child = [(r.relation, r.line) for r in small.rules_for_purpose("marketing.newsletter")]
    assert child == [("covers", CONSENT), ("covers", WITHDRAWN), ("covers", FORUM)]
    assert small.rules_for_purpose("support")[0].to_dict()["rule"] == "allow use of email for support"


def test_without_consent(small: Policy) -> None:
    got = {(r.action, r.data, r.source, r.purpose, r.recipient) for r in small.without_consent()}
    assert ("use", "email", None, "support", None) in got
    assert ("collect", "cookie", "contact", None, None) in got
    assert ("use", "email", "contact", "marketing.offers", None) in got
    assert not any(r[3] == "marketing" for r in got)  # needs consent
    assert not any(r[4] == "authority" for r in got)  # needs the law


def test_rows_serialise(small: Policy) -> None:
    out = json.loads(json.dumps([r.to_dict() for r in small.uses("email", "contact")]))
    assert out[0].keys() == {"action", "data", "source", "purpose", "recipient", "decision", "requires", "rules"}
    assert out[0]["rules"][0].keys() == {"rule", "file", "line", "section", "basis"}


def test_unknown_terms_in_map_questions_raise(small: Policy) -> None:
    with pytest.raises(QueryError) as info:
        small.uses("emial")
    assert info.value.suggestions == ["email"]
    with pytest.raises(QueryError):
        small.data_for("partners")
    with pytest.raises(QueryError):
        small.rules_for_purpose("marketting")
    with pytest.raises(QueryError):
        small.uses("email", facts=["concent"])


def test_open_e_map(open_e: Policy) -> None:
    uses = {(r.source, r.purpose): (r.decision, r.requires) for r in open_e.uses("email", "contact")}
    assert uses[("contact", "marketing")] == ("conditional", "newsletter_form or notification_settings")
    forum = {r.purpose for r in open_e.uses("email", "forum")}
    assert "publishing" in forum and not any(x.startswith("marketing") for x in forum)
    assert ("acquirer", "conditional") in {(r.recipient, r.decision) for r in open_e.recipients("email")}
    assert {r.data for r in open_e.data_for("public")} == {"post"}
    free = {(r.action, r.data, r.source, r.purpose) for r in open_e.without_consent()}
    assert ("collect", "cookie", "website", None) in free
    assert not any(a == "use" and purpose and purpose.startswith("marketing") and d == "email"
                   for a, d, _, purpose in free)
    statements = open_e.statements()
    assert {r["right"] for r in statements["rights"]} >= {"access", "erasure", "portability", "unsubscribe"}
    assert statements["security"] and statements["controller"].startswith("Open-E Inc.")


def test_graph_exports(small: Policy) -> None:
    data = json.loads(small.export_graph("json"))
    assert data["policy"] == {"name": "Small", "digest": small.digest}
    assert {"id": "purpose:marketing.newsletter", "kind": "purpose", "term": "marketing.newsletter",
            "label": "Newsletter"} in data["nodes"]
    rule_edges = [e for e in data["edges"] if e["relation"] == "rule"]
    assert {"source": "data:email", "target": "purpose:marketing", "effect": "deny", "line": FORUM}.items() <= \
        next(e for e in rule_edges if e["line"] == FORUM).items()
    dot = small.export_graph("dot")
    assert dot.startswith('digraph "Small" {') and '"data:email" -> "purpose:marketing"' in dot and "red3" in dot
    mermaid = small.export_graph("mermaid")
    assert mermaid.startswith("flowchart LR") and "n_data_email -->|\"allow use if consent\"| n_purpose_marketing" \
        in mermaid
    with pytest.raises(ValueError):
        small.export_graph("png")


# The bug reports' own policy (issue 9: share rules that name a purpose, a parent recipient), kept
# as reported so the regression tests read as the reports do; the shared small policy has neither.
COURIER = """policy "Courier"
data email "E-mail"
data name "Name"
purpose delivery "Delivery"
recipient courier "Courier"
recipient processor "Processors"
recipient processor.payment "Payment processor"

section "Sharing":
  allow share of email for delivery with courier basis contract
  allow share of name with processor.payment basis contract
"""


@pytest.fixture(scope="module")
def courier() -> Policy:
    return policy_engine.loads(COURIER, "courier.policy")


def test_share_rules_that_name_a_purpose_are_on_the_map(courier: Policy) -> None:
    assert courier.decide({"action": "share", "data": "email", "purpose": "delivery", "recipient": "courier",
                           "facts": []}).decision == "allow"
    assert rows(courier.recipients("email")) == [(None, "delivery", "courier", "email", "allow", None)]
    assert rows(courier.data_for("courier")) == [(None, "delivery", "courier", "email", "allow", None)]


def test_data_for_a_parent_recipient_lists_what_its_children_receive(courier: Policy) -> None:
    assert rows(courier.data_for("processor")) == [(None, None, "processor.payment", "name", "allow", None)]
