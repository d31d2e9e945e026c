"""A decision in sentences, for `explain`. In: the engine's Explanation (the decision with the
matching rules by effect). Out: str: the question, the answer, the rules that decided it and,
for a deny, what would lift it; a parent term denied while its children are allowed says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.engine import words
from policy_engine.engine.engine import Explanation
from policy_engine.engine.narrower import Narrower


def explanation_text(ex: Explanation, narrower: Sequence[Narrower] = ()) -> str:
    """`narrower`: for a deny, the narrower terms the question is allowed for (narrower.py)."""
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
    if d.decision == "deny" and not d.reasons and not ex.allows:
        lines.append("No allow rule matches this question.")
    for n in narrower:
        lines += words.narrower(n.kind, n.parent, n.allowed, n.more)
    return "\n".join(lines)
