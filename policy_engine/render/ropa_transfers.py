"""The transfers cell of the record of processing (GDPR Art. 30(1)(e)): for one purpose, the transfers
to third countries the policy allows and the safeguard each relies on. In: a loaded Policy, the row's
purpose and data (term ids). Out: one line of text, or "" when the policy states none.

A transfer belongs to the row when its rule is an allow naming a destination, on data the row holds
(or all data), on a purpose that covers the row's (or none); its recipients are the rule's (a
transfer rule may be the only one sharing with them: the row's recipients, asked without a
destination, would not show them). Each reads `Subprocessors and service providers in The United States, under Standard
contractual clauses (only if ...)`, with labels, in policy order, each distinct line once.
"""

from __future__ import annotations

from policy_engine.engine.policy import Policy
from policy_engine.engine.transfers import transfers, under
from policy_engine.render.sentences import labeled


def transfers_cell(policy: Policy, purpose: str, data: set[str]) -> str:
    terms = policy.terms
    facts = {f: t.label for f, t in terms["fact"].items()}

    def label(kind: str, term_id: str) -> str:
        term = terms[kind].get(term_id)
        return term.label if term is not None else term_id

    lines: list[str] = []
    for t in transfers(policy.compiled.rules):
        if t.data is not None and not any(under(d, t.data) for d in data):
            continue
        if t.purposes and not under(purpose, t.purposes):
            continue
        text = (", ".join(label("recipient", r) for r in t.recipients) or "any recipient") + " in " \
            + " or ".join(label("region", d) for d in t.destinations)
        text += f", under {label('safeguard', t.safeguard)}" if t.safeguard else ""
        if t.condition:
            text += f" (only if {labeled(t.condition, facts)})"
        if text not in lines:
            lines.append(text)
    return "; ".join(lines)
