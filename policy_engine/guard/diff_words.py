"""A semantic diff's change groups in sentences: `email from forum may now be used for
forum_notifications without consent (before: only if forum_emails_opt_in)`. In: a ChangeGroup and
the policies compared. Out: str. Kept apart from the diff's computation (`diff.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from policy_engine.engine import words
from policy_engine.engine.compiler import CompiledPolicy
from policy_engine.engine.space import DIMENSIONS, dimension_values

if TYPE_CHECKING:
    from policy_engine.guard.diff import ChangeGroup



def describe_terms(values: Sequence[str | None], candidates: Sequence[str | None]) -> str | None:
    """`values` in few words, given every value the dimension could take (`candidates`):
    None when they are all of them; a term stands for its narrower terms when all are in."""
    chosen = set(values)
    if chosen >= set(candidates):
        return None
    terms = [v for v in candidates if isinstance(v, str)]

    def whole(t: str) -> bool:
        return all(c in chosen for c in terms if c == t or c.startswith(t + "."))

    parts: list[str] = []
    for v in values:
        if v is None:
            continue
        parent_whole = any(v.startswith(p + ".") and p in chosen and whole(p) for p in terms)
        if parent_whole:
            continue
        if whole(v):
            parts.append(v)
        else:
            left_out = [c for c in terms if c.startswith(v + ".") and c not in chosen]
            tops = [c for c in left_out if not any(c.startswith(x + ".") for x in left_out)]
            parts.append(f"{v} (but not {', '.join(tops)})")
    text = words.join(parts)
    if None in chosen:
        text = (text + ", or" if text else "") + " none named"
    return text.strip()


def subject(group: ChangeGroup, policies: Sequence[CompiledPolicy]) -> tuple[str, str]:
    """(`email from contact`, ` for marketing with service_provider`) for the sentence."""
    parts: dict[str, str | None] = {}
    for dim in DIMENSIONS:
        parts[dim] = describe_terms(group.values[dim], dimension_values(policies, group.action, dim))
    head = parts["data"] or "any data"
    if parts["source"]:
        head += f" from {parts['source']}" if parts["source"] != "none named" else " (source not named)"
    tail = ""
    if parts["purpose"]:
        tail += f" for {parts['purpose']}" if parts["purpose"] != "none named" else " (purpose not named)"
    if parts["recipient"]:
        tail += f" with {parts['recipient']}" if parts["recipient"] != "none named" else " (recipient not named)"
    if parts.get("destination") and parts["destination"] != "none named":  # a transfer's region
        tail += f" in {parts['destination']}"
    return head, tail


def _consent_word(reasons: list[dict[str, Any]], req: str | None) -> str:
    bases = {r.get("basis") for r in reasons if r.get("effect") == "allow"}
    if "consent" in bases:
        return "without consent"
    return "without any condition" if req else "unconditionally"


def sentence(group: ChangeGroup, policies: Sequence[CompiledPolicy]) -> str:
    head, tail = subject(group, policies)
    verb = words.verb(group.action)
    b, a = group.before, group.after
    before = {"allow": "always", "deny": "never", "conditional": f"only if {b.requires}"}[b.decision]
    if a.decision == "allow":
        how = _consent_word(group.reasons_before, b.requires) if b.decision == "conditional" else "unconditionally"
        return f"{head} may now be {verb}{tail} {how} (before: {before})"
    if a.decision == "deny":
        return f"{head} may no longer be {verb}{tail} (before: {before})"
    # after: conditional
    if group.widened and not group.narrowed:
        return f"{head} may now be {verb}{tail} if {a.requires} (before: {before})"
    if group.narrowed and not group.widened:
        return f"{head} may now be {verb}{tail} only if {a.requires} (before: {before})"
    return f"{head} may now be {verb}{tail} if {a.requires}, a different condition (before: {before})"
