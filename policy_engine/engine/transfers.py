"""Transfers: data sent to a destination region under a safeguard. In: compiled rules and a policy's
vocabulary. Out: the transfers a policy allows (for the data map and the record of processing), the
words for them, and the test a promise `no share in REGION except under S1, S2` applies to a rule.

How a transfer is decided needs nothing here: a question's `destination` is matched like any other
dimension (the decision index has a table for it, `index.py`), so a rule that names a destination
and a question that leaves it out follow the one principle: such an allow cannot be proven to
apply, such a deny applies. A rule's safeguard decides nothing; it is what the answer cites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policy_engine.engine.compiler import CompiledRule
    from policy_engine.engine.vocabulary import Vocabulary


def under(term: str | None, terms: Sequence[str]) -> bool:
    """Whether `term` is one of `terms` or a descendant of one."""
    return term is not None and any(term == t or term.startswith(t + ".") for t in terms)


def safeguard_problem(rule: CompiledRule, wanted: Sequence[str]) -> str | None:
    """Why an allow rule breaks `except under WANTED` (None: it relies on one of them)."""
    if under(rule.safeguard, wanted):
        return None
    allowed = " or ".join(wanted)
    if rule.safeguard is None:
        return f"a rule that allows it states no safeguard (it names no destination), not {allowed}"
    return f"a rule that allows it relies on {rule.safeguard}, not {allowed}"


def in_words(destinations: Sequence[str], safeguard: str | None, labels: Vocabulary | None = None) -> str:
    """`to United States (region.us) under Standard contractual clauses (standard_contractual_clauses)`,
    or with no vocabulary `to region.us under standard_contractual_clauses`."""
    def name(kind: str, term: str) -> str:
        found = labels.terms[kind].get(term) if labels is not None else None
        return f"{found.label} ({term})" if found is not None else term

    text = "to " + " or ".join(name("region", d) for d in destinations)
    return text + (f" under {name('safeguard', safeguard)}" if safeguard else "")


@dataclass(frozen=True)
class Transfer:
    """One allowed transfer as the policy writes it: which data, to whom, where, under what."""

    action: str
    data: tuple[str, ...] | None  # None: all data
    purposes: tuple[str, ...]  # () any
    recipients: tuple[str, ...]
    destinations: tuple[str, ...]
    safeguard: str | None
    condition: str | None
    rule: str
    file: str
    line: int
    section: str

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "data": None if self.data is None else list(self.data),
                "purposes": list(self.purposes), "recipients": list(self.recipients), "destinations": list(self.destinations),
                "safeguard": self.safeguard, "condition": self.condition, "rule": self.rule, "file": self.file,
                "line": self.line, "section": self.section}


def transfers(rules: Sequence[CompiledRule]) -> list[Transfer]:
    """The allow rules that name a destination, in policy order (GDPR Art. 30(1)(e): the transfers
    to third countries and their safeguards)."""
    return [Transfer(r.action, r.data, r.purposes, r.recipients, r.destinations, r.safeguard, r.condition_text, r.text,
                     r.file, r.line, r.section)
            for r in rules if r.effect == "allow" and r.destinations]


def needing_destination(cp: Any, key: Any) -> list[CompiledRule]:
    """For a question that names no destination: the allow rules that would match it had it named
    one of theirs (so `explain` can say why they do not apply)."""
    if key.destination is not None or not cp.index.transfers:
        return []
    out = []
    for rule in cp.rules:
        if rule.effect != "allow" or not rule.destinations:
            continue
        m = cp.index.match(key.action, key.data, key.source, key.purpose, key.recipient, rule.destinations[0])
        if m >> rule.index & 1:
            out.append(rule)
    return out
