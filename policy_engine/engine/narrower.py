"""A denied question about a parent term whose children are allowed. In: the engine and a
question (Key). Out: per dimension, the narrower terms the same question is allowed (or
conditional) for, with their answers.

A rule on `marketing.newsletter` does not cover a question about `marketing` (the question is
about every kind of marketing at once), so "use email for marketing" is denied while the
newsletter is allowed. That surprises a reader who sees the newsletter rule; `explain` says
so and names the children, so the next question asked is the narrower one.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_engine.engine.engine import Engine
from policy_engine.engine.query import Decision, Key

# The narrower terms named per dimension; a vocabulary with hundreds of sub-terms is summed up.
MAX_NAMED = 8
_KINDS = (("data", "data"), ("source", "source"), ("purpose", "purpose"), ("recipient", "recipient"))


@dataclass(frozen=True)
class Narrower:
    kind: str  # data | source | purpose | recipient
    parent: str
    allowed: tuple[tuple[str, Decision], ...]  # (child, its answer), the first MAX_NAMED
    more: int  # further children allowed, not named


def allowed_children(engine: Engine, key: Key, decision: Decision) -> list[Narrower]:
    """Nothing when the question is not denied; else the dimensions whose narrower terms are
    allowed or conditional (each child asked with the rest of the question, facts included)."""
    if decision.decision != "deny":
        return []
    vocabulary = engine.cp.vocabulary
    out = []
    for kind, field in _KINDS:
        parent = getattr(key, field)
        if parent is None:
            continue
        allowed = []
        for child in vocabulary.descendants(kind, parent):
            answer = engine.decide(key._replace(**{field: child}))
            if answer.decision != "deny":
                allowed.append((child, answer))
        if allowed:
            # the children closest to the parent first, then in declaration order
            allowed.sort(key=lambda c: c[0].count("."))
            out.append(Narrower(kind, parent, tuple(allowed[:MAX_NAMED]), max(0, len(allowed) - MAX_NAMED)))
    return out
