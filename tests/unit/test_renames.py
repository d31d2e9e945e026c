"""guard/renames.py: a term renamed with its rules is one rename, not N widened plus N narrowed
questions; a rename beside a real change leaves exactly that change; what is not a rename (the
rules changed too, or two candidates fit) is diffed as before."""

from __future__ import annotations

import re
from pathlib import Path

from policy_engine import api
from policy_engine.guard import diff, renames
from policy_engine.guard.diff_report import json_fields, render_markdown, render_text

OPEN_E = (Path(__file__).resolve().parents[2] / "policies" / "open_e.policy").read_text(encoding="utf-8")
PARTNER = "    with business_partner\n    if partner_inquiry\n"


def rename(text: str, old: str, new: str) -> str:
    """Every use of the id `old` (and of the ids below it) in the policy, as an editor's rename would."""
    out = re.sub(rf"(?<![\w.]){re.escape(old)}(?=[\s,.:)]|$)", new, text, flags=re.M)
    assert out != text
    return out


def load(text: str, name: str = "policies/open_e.policy") -> api.Policy:
    return api.loads(text, name)


def test_a_renamed_recipient_is_one_rename_and_no_change():
    old, new = load(OPEN_E), load(rename(OPEN_E, "business_partner", "partner"))
    plain = diff.semantic_diff(old, new)
    assert plain.widened > 0 and plain.narrowed > 0  # what the reviewer saw before
    result = renames.semantic_diff(old, new)
    assert (result.widened, result.narrowed, result.groups) == (0, 0, [])
    [r] = result.renames
    assert (r.kind, r.old, r.new) == ("recipient", "business_partner", "partner")
    assert r.rules == sum("business_partner" in rule.text for rule in old.compiled.rules)
    text = render_text([result])
    assert "RENAMED: recipient `business_partner` is now `partner`" in text and text.endswith("0 widened, 0 narrowed")
    assert "Renamed (the same rules under a new id" in render_markdown([result])
    assert json_fields([result])["renames"] == [{"file": "policies/open_e.policy", "kind": "recipient",
                                                 "old": "business_partner", "new": "partner", "rules": r.rules}]


def test_a_renamed_parent_carries_its_narrower_terms():
    new = load(rename(OPEN_E, "marketing", "promotion_mail"))
    result = renames.semantic_diff(load(OPEN_E), new)
    assert [(r.kind, r.old, r.new) for r in result.renames] == [("purpose", "marketing", "promotion_mail")]
    assert (result.widened, result.narrowed) == (0, 0)


def test_a_rename_beside_a_widening_leaves_exactly_the_widening():
    widened_only = OPEN_E.replace(PARTNER, "    with business_partner\n", 1)
    alone = diff.semantic_diff(load(OPEN_E), load(widened_only))
    both = renames.semantic_diff(load(OPEN_E), load(rename(widened_only, "marketing.offers", "marketing.deals")))
    assert [(r.old, r.new) for r in both.renames] == [("marketing.offers", "marketing.deals")]
    assert (both.widened, both.narrowed) == (alone.widened, alone.narrowed) and alone.widened > 0
    assert [g.sentence for g in both.groups] == [g.sentence for g in alone.groups]


def test_a_rename_whose_rules_changed_too_is_not_a_rename():
    edited = rename(OPEN_E, "business_partner", "partner").replace(
        "    with partner\n    if partner_inquiry\n", "    with partner\n", 1)
    result = renames.semantic_diff(load(OPEN_E), load(edited))
    assert result.renames == []
    plain = diff.semantic_diff(load(OPEN_E), load(edited))
    assert (result.widened, result.narrowed) == (plain.widened, plain.narrowed)


def test_two_candidates_that_fit_alike_are_left_to_the_plain_diff():
    base = ('policy "P"\ndata email "E"\npurpose a "A"\npurpose b "B"\nsection "S":\n'
            "  allow use of email for a\n  allow use of email for b\n")
    new = base.replace('purpose a "A"\npurpose b "B"', 'purpose c "C"\npurpose d "D"').replace(
        "for a\n", "for c\n").replace("for b\n", "for d\n")
    result = renames.semantic_diff(load(base, "p.policy"), load(new, "p.policy"))
    assert result.renames == [] and result.widened and result.narrowed


def test_apply_renames_keeps_the_old_lines_and_answers():
    old = load(OPEN_E)
    found = renames.detect_renames(old, load(rename(OPEN_E, "business_partner", "partner")))
    moved = renames.apply_renames(old, found)
    q = {"action": "share", "data": "email", "recipient": "partner"}
    before = old.decide({**q, "recipient": "business_partner"})
    after = moved.decide(q)
    assert (after.decision, after.requires) == (before.decision, before.requires)
    assert [r.line for r in after.reasons] == [r.line for r in before.reasons]
    assert moved.digest == old.digest
