"""A decision in sentences, for `explain`. In: the engine's Explanation (the decision with the
matching rules by effect). Out: str: the question, the answer, the rules that decided it and,
for a deny, what would lift it; a parent term denied while its children are allowed says so.
`explanation_parts` gives the same as data (`POST /v1/explain`): the lines and every matching rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policy_engine.engine import timed_words, transfers, words
from policy_engine.engine.compiler import CompiledRule
from policy_engine.engine.engine import Explanation
from policy_engine.engine.narrower import Narrower


def _transfer_lines(ex: Explanation, cp: object) -> list[str]:
    """A transfer's safeguards, or why the transfer rules do not apply to a question naming no
    destination."""
    d = ex.decision
    if ex.key.destination is not None and d.decision != "deny":
        relied = words.safeguards(d.reasons)
        if relied:
            return [f"The transfer to {ex.key.destination} relies on {words.join(relied)}."]
        return [f"No rule that allows it states a safeguard for the transfer to {ex.key.destination}."]
    waiting = transfers.needing_destination(cp, ex.key) if cp is not None else []
    if waiting and d.decision != "allow":
        regions = list(dict.fromkeys(r for rule in waiting for r in rule.destinations))
        return ["Rules that allow it name a destination (" + words.join(regions, "or") + "), and the question "
                "names none, so they cannot be proven to apply: ask with a destination."]
    return []


def explanation_text(ex: Explanation, narrower: Sequence[Narrower] = (), cp: object = None) -> str:
    """`narrower`: for a deny, the narrower terms the question is allowed for (narrower.py); `cp`: the
    compiled policy, for what the transfer rules need (transfers.py)."""
    d = ex.decision
    lines = [f"Question: {words.question(ex.key, unknown=words.FACTS_UNKNOWN)}."]
    if d.decision == "allow":
        lines.append("Answer: allowed.")
    elif d.decision == "conditional":
        lines.append(f"Answer: {words.answer(d.decision, d.requires)}.")
    elif d.reasons:
        lines.append("Answer: denied by the rule" + ("s" if len(d.reasons) > 1 else "") + " below.")
    else:
        many = len(ex.allows) > 1
        lines.append("Answer: denied by default: " + (
            f"the matching allow rule{'s' * many} need{'s' * (not many)} a condition that does not hold."
            if ex.allows else "no rule allows this."))
    if d.would_allow_if:
        lines.append(f"It would be allowed if {d.would_allow_if}.")
    lines += timed_words.explain_times(ex)
    if d.reasons:
        lines.append("Because:" if d.decision != "conditional" else "The rules that decide it:")
        lines += words.reason_lines(d.reasons, "  ")
    cited = {(r.line, r.rule) for r in d.reasons}
    lifting = [r for r in ex.allows if (r.line, r.text) not in cited]
    if d.decision == "deny" and lifting:
        lines.append("Matching allows whose conditions do not hold:" if ex.key.facts is not None
                     else "Matching allows, overridden:")
        for r in lifting:
            lines += words.reason_lines([{"effect": r.effect, "file": r.file, "line": r.line, "section": r.section,
                                          "basis": r.basis, "rule": r.text}], "  ")
    extra = _transfer_lines(ex, cp)
    lines += extra
    if d.decision == "deny" and not d.reasons and not ex.allows and not extra:
        lines.append("No allow rule matches this question.")
    for n in narrower:
        lines += words.narrower(n.kind, n.parent, n.allowed, n.more)
    return "\n".join(lines)


def explanation_parts(ex: Explanation, narrower: Sequence[Narrower] = (), cp: object = None) -> dict[str, Any]:
    """The explanation as data: `text` (what `policy-engine explain` prints), its `sentences` (one
    per line), the `decision` (the answer, as `decide` gives it) and `matching`: every rule that matches the question,
    allows then denies, each marked `cited` when it is one of the answer's reasons."""
    text = explanation_text(ex, narrower, cp)
    cited = {(r.line, r.rule) for r in ex.decision.reasons}

    def rule(r: CompiledRule) -> dict[str, Any]:
        return {"effect": r.effect, "rule": r.text, "condition": r.condition_text, "basis": r.basis,
                "file": r.file, "line": r.line, "section": r.section, "cited": (r.line, r.text) in cited}

    return {"text": text, "sentences": text.split("\n"), "decision": ex.decision.to_dict(),
            "matching": [rule(r) for r in (*ex.allows, *ex.denies)]}
