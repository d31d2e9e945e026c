"""The data map: a data-protection officer's questions, answered over the whole policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import policy_engine
from policy_engine import Policy, QueryError

OPEN_E = Path(__file__).resolve().parents[2] / "policies" / "open_e.policy"

SMALL = """policy "Small"
data email "E-mail"
data cookie "Cookies"
data cookie.analytics "Analytics"
source contact "Contact"
source forum "Forum"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
purpose marketing.offers "Offers"
purpose support "Support"
recipient partner "Partner"
recipient partner.ads "Ads"
recipient authority "Authority"
fact consent "Consent"
fact law "Law"

section "Marketing":
  allow use of email from contact for marketing if consent basis consent
  deny use of email from forum for marketing
  allow use of email for support
  allow use of email from contact for marketing.offers

section "Sharing":
  allow share of cookie with partner
  allow share of all data with authority if law
  allow collect of email from contact
"""


@pytest.fixture(scope="module")
def small() -> Policy:
    return policy_engine.loads(SMALL, "small.policy")


def rows(result) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(r.source, r.purpose, r.recipient, r.data, r.decision, r.requires) for r in result]


def test_uses_lists_purposes_with_conditions_and_folds_repeats(small: Policy) -> None:
    got = rows(small.uses("email"))
    assert (None, "support", None, "email", "allow", None) in got  # any source: no per-source repeats
    assert ("contact", "support", None, "email", "allow", None) not in got
    assert ("contact", "marketing", None, "email", "conditional", "consent") in got
    assert ("contact", "marketing.newsletter", None, "email", "conditional", "consent") not in got  # = parent
    assert ("contact", "marketing.offers", None, "email", "allow", None) in got  # differs from its parent
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
    assert got == [("covers", 18, "allow"), ("covers", 19, "deny"), ("narrower", 21, "allow")]
    child = [(r.relation, r.line) for r in small.rules_for_purpose("marketing.newsletter")]
    assert child == [("covers", 18), ("covers", 19)]
    assert small.rules_for_purpose("support")[0].to_dict()["rule"] == "allow use of email for support"


def test_without_consent(small: Policy) -> None:
    got = {(r.action, r.data, r.source, r.purpose, r.recipient) for r in small.without_consent()}
    assert ("use", "email", None, "support", None) in got
    assert ("collect", "email", "contact", None, None) in got
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


def test_open_e_map() -> None:
    p = policy_engine.load(OPEN_E)
    uses = {(r.source, r.purpose): (r.decision, r.requires) for r in p.uses("email", "contact")}
    assert uses[("contact", "marketing")] == ("conditional", "newsletter_form or notification_settings")
    forum = {r.purpose for r in p.uses("email", "forum")}
    assert "publishing" in forum and not any(x.startswith("marketing") for x in forum)
    assert ("acquirer", "conditional") in {(r.recipient, r.decision) for r in p.recipients("email")}
    assert {r.data for r in p.data_for("public")} == {"post"}
    free = {(r.action, r.data, r.source, r.purpose) for r in p.without_consent()}
    assert ("collect", "cookie", "website", None) in free
    assert not any(a == "use" and purpose and purpose.startswith("marketing") and d == "email"
                   for a, d, _, purpose in free)
    statements = p.statements()
    assert {r["right"] for r in statements["rights"]} >= {"access", "erasure", "portability", "unsubscribe"}
    assert statements["security"] and statements["controller"].startswith("Open-E Inc.")


def test_graph_exports(small: Policy) -> None:
    data = json.loads(small.export_graph("json"))
    assert data["policy"] == {"name": "Small", "digest": small.digest}
    assert {"id": "purpose:marketing.newsletter", "kind": "purpose", "term": "marketing.newsletter",
            "label": "Newsletter"} in data["nodes"]
    rule_edges = [e for e in data["edges"] if e["relation"] == "rule"]
    assert {"source": "data:email", "target": "purpose:marketing", "effect": "deny", "line": 19}.items() <= \
        next(e for e in rule_edges if e["line"] == 19).items()
    dot = small.export_graph("dot")
    assert dot.startswith('digraph "Small" {') and '"data:email" -> "purpose:marketing"' in dot and "red3" in dot
    mermaid = small.export_graph("mermaid")
    assert mermaid.startswith("flowchart LR") and "n_data_email -->|\"allow use if consent\"| n_purpose_marketing" \
        in mermaid
    with pytest.raises(ValueError):
        small.export_graph("png")


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


def test_share_rules_that_name_a_purpose_are_on_the_map() -> None:
    p = policy_engine.loads(COURIER, "courier.policy")
    assert p.decide({"action": "share", "data": "email", "purpose": "delivery", "recipient": "courier",
                     "facts": []}).decision == "allow"
    assert rows(p.recipients("email")) == [(None, "delivery", "courier", "email", "allow", None)]
    assert rows(p.data_for("courier")) == [(None, "delivery", "courier", "email", "allow", None)]


def test_data_for_a_parent_recipient_lists_what_its_children_receive() -> None:
    p = policy_engine.loads(COURIER, "courier.policy")
    assert rows(p.data_for("processor")) == [(None, None, "processor.payment", "name", "allow", None)]
