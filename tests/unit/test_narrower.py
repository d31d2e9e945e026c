"""narrower.py and explain: a denied question about a parent term whose children are allowed
says so, and names the children with their answers."""

from __future__ import annotations

from policy_engine.engine.loader import load_text

POLICY = """\
data email "E-mail address"
data email.work "Work address"
source contact "Contact form"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
purpose marketing.offers "Offers"
purpose marketing.events "Events"
fact newsletter_form "Subscribed"
section "Marketing":
  retention of all data: "a year"
  allow use of email from contact for marketing.newsletter if newsletter_form basis consent
  allow use of email from contact for marketing.offers basis legitimate_interests
"""
Q = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}


def test_a_denied_parent_names_its_allowed_children_with_their_answers() -> None:
    text = load_text(POLICY, "n.policy").explain(Q)
    lines = text.splitlines()
    assert lines[1] == "Answer: denied by default: no rule allows this."
    at = next(i for i, line in enumerate(lines) if line.startswith("Narrower purposes are allowed, though"))
    assert "`marketing`" in lines[at]
    assert lines[at + 1:] == ["  marketing.newsletter: allowed only if newsletter_form", "  marketing.offers: allowed"]
    assert "marketing.events" not in text  # a child nothing allows is not named


def test_the_facts_of_the_question_decide_the_childrens_answers() -> None:
    text = load_text(POLICY, "n.policy").explain({**Q, "facts": []})
    assert text.splitlines()[-1] == "  marketing.offers: allowed"


def test_no_note_when_the_parent_is_allowed_or_no_child_is() -> None:
    policy = load_text(POLICY, "n.policy")
    assert "Narrower" not in policy.explain({**Q, "purpose": "marketing.offers"})
    assert "Narrower" not in policy.explain({**Q, "purpose": "marketing.events"})


def test_a_parent_data_term_is_covered_too() -> None:
    text = POLICY.replace("allow use of email from contact for marketing.offers",
                          "allow use of email.work from contact for marketing.offers")
    out = load_text(text, "n.policy").explain({**Q, "purpose": "marketing.offers"})
    assert "Narrower data are allowed, though: a question about `email`" in out
    assert out.splitlines()[-1] == "  email.work: allowed"
