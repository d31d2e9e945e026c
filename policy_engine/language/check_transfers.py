"""The checks of transfers: a rule that sends data to a destination region states the safeguard it
relies on. In: the Checker (checker.py) with its declarations resolved, and one rule, question or
promise. Out: its diagnostics, added in place.

A transfer is a `share` (or a `collect` by a recipient) that names `in REGION`. An allow naming a
destination must say `under SAFEGUARD` (an adequacy decision, standard contractual clauses, a
certification framework, explicit consent: whatever the policy declares as a safeguard); a deny
forbids the transfer whatever the safeguard, so it states none. Kept apart from checker.py so each
module stays small; nothing here runs for a statement that names no destination or safeguard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policy_engine.language import ast
from policy_engine.language.source import Span

if TYPE_CHECKING:
    from policy_engine.language.checker import Checker


def _span(refs: tuple[ast.TermRef, ...]) -> Span | None:
    first, last = refs[0].span, refs[-1].span
    return Span(first.start, last.end) if first is not None and last is not None else None


def _safeguards(ch: Checker) -> list[str]:
    return [i for (k, i) in ch.declared if k == "safeguard"]


def check_rule(ch: Checker, rule: ast.Rule) -> None:
    """Resolve the regions and the safeguard; a destination only on a transfer, a safeguard only
    with a destination and only on an allow, and every allowed transfer states its safeguard."""
    for ref in rule.destinations:
        ch.resolve(ref, "region")
    if rule.safeguard is not None:
        ch.resolve(rule.safeguard, "safeguard")
    if rule.destinations:
        where = _span(rule.destinations)
        named = ", ".join(r.id for r in rule.destinations)
        base = ast.base_action(rule.action)
        if base not in ("share", "collect") or (base == "collect" and not rule.recipients):
            ch.error("check.destination_not_transfer", f"only a share, or a collect by a recipient, sends data to "
                     f"a destination; this `{rule.action}` rule names `in {named}`", where,
                     help="write the transfer as a `share ... with RECIPIENT in REGION` rule, or remove `in "
                     f"{named}`")
            return
        if rule.effect == "allow" and rule.safeguard is None:
            known = _safeguards(ch)
            fix = ("the declared safeguards are " + ", ".join(f"`{s}`" for s in known)) if known else \
                'declare one first, like safeguard standard_contractual_clauses "Standard contractual clauses"'
            ch.error("check.missing_safeguard", f"this rule allows a transfer to {named} but does not state the "
                     "safeguard it relies on", where,
                     help=f"add `under SAFEGUARD` after `in {named}`; {fix}")
    if rule.safeguard is not None:
        if not rule.destinations:
            ch.error("check.safeguard_without_destination", f"`under {rule.safeguard.id}` names a safeguard, but "
                     "the rule names no destination", rule.safeguard.span,
                     help=f"add `in REGION` before `under {rule.safeguard.id}`, or remove the safeguard")
        elif rule.effect == "deny":
            ch.error("check.safeguard_on_deny", "a deny forbids the transfer whatever its safeguard, so it "
                     "states none", rule.safeguard.span, help=f"remove `under {rule.safeguard.id}`")


def check_question(ch: Checker, query: ast.Query) -> None:
    if query.destination is not None:
        ch.resolve(query.destination, "region")


def check_invariant(ch: Checker, inv: ast.Invariant) -> None:
    """`... in REGION`: declared regions; `except under S1, S2`: declared safeguards."""
    for ref in inv.destinations:
        ch.resolve(ref, "region")
    for ref in inv.safeguards:
        ch.resolve(ref, "safeguard")
