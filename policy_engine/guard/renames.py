"""Renamed terms in a semantic diff. In: the old and the new Policy. Out: the Renames (a term
whose id changed while every rule that names it stayed the same), and the old policy with
those renames applied, so the diff compares meanings and not spellings.

Without this, renaming `marketing.newsletter` to `marketing.news` (declaration and rules alike)
reads as every newsletter question narrowed (the old id is gone) and every news question
widened (the new id is allowed): N widened plus N narrowed, though nothing changed in meaning.

A pair (old id t, new id u) of one kind is a rename when t is declared only in the old policy
and u only in the new, they have the same parent, the same narrower terms below them (by
suffix: `t.x` <-> `u.x`), and the rules that name t or a narrower term, with that term written
as a placeholder, are exactly the rules of the new policy that name u or a narrower term. A
rename found, the old policy's tree is rewritten (declarations, rules, expectations,
invariants, retention) and compiled again; its rules keep their file and line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from policy_engine.engine.compiler import CompiledRule, compile_policy
from policy_engine.engine.policy import Policy
from policy_engine.guard import diff
from policy_engine.guard.diff import DiffResult
from policy_engine.language import ast

DIMENSIONS = ("data", "source", "purpose", "recipient")
_FIELD_KIND = {"data": "data", "source": "source", "sources": "source", "purpose": "purpose",
               "purposes": "purpose", "recipient": "recipient", "recipients": "recipient", "exceptions": "data"}
_HOLE = "\x00"


@dataclass(frozen=True)
class Rename:
    kind: str  # data | source | purpose | recipient
    old: str
    new: str
    rules: int  # rules that name the term (or a narrower one)

    def sentence(self) -> str:
        return f"{self.kind} `{self.old}` is now `{self.new}`" + (
            f" ({self.rules} rule{'s' * (self.rules != 1)} renamed with it; same meaning)" if self.rules else "")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _under(term: str, top: str) -> bool:
    return term == top or term.startswith(top + ".")


def _ids(policy: Policy, kind: str) -> set[str]:
    return {t["id"] for t in policy.vocabulary()[kind]}


def _signature(rule: CompiledRule, kind: str, top: str) -> tuple[Any, ...] | None:
    """The rule with every term under `top` on `kind` written as a placeholder; None when the
    rule names no such term."""
    terms = rule.terms(kind) or ()
    if not any(_under(t, top) for t in terms):
        return None
    holed = frozenset(_HOLE + t[len(top):] if _under(t, top) else t for t in terms)
    parts = {d: frozenset(rule.terms(d) or ()) for d in DIMENSIONS}
    parts[kind] = holed
    data = None if rule.data is None and kind != "data" else parts["data"]
    return (rule.effect, rule.action, data, parts["source"], parts["purpose"], parts["recipient"],
            rule.condition_text, rule.basis, frozenset(rule.destinations), rule.safeguard)


def _signatures(policy: Policy, kind: str, top: str) -> Counter[tuple[Any, ...]]:
    return Counter(s for r in policy.compiled.rules if (s := _signature(r, kind, top)) is not None)


def _parent(term: str) -> str | None:
    return term.rsplit(".", 1)[0] if "." in term else None


def detect_renames(old: Policy, new: Policy) -> list[Rename]:
    found: list[Rename] = []
    for kind in DIMENSIONS:
        before, after = _ids(old, kind), _ids(new, kind)
        removed, added = before - after, after - before
        tops_old = [t for t in removed if _parent(t) not in removed]
        tops_new = [u for u in added if _parent(u) not in added]

        def below(top: str, pool: set[str]) -> frozenset[str]:
            return frozenset(x[len(top):] for x in pool if _under(x, top))

        for t in sorted(tops_old):
            sig_old = _signatures(old, kind, t)
            if not sig_old:
                continue  # no rule names it: dropping or renaming it changes no answer anyway
            matches = [u for u in tops_new if _parent(u) == _parent(t) and below(u, added) == below(t, removed)
                       and _signatures(new, kind, u) == sig_old]
            if len(matches) == 1:
                found.append(Rename(kind, t, matches[0], sum(sig_old.values())))
    return found


def _rename_id(term: str, kind: str, renames: list[Rename]) -> str:
    for r in renames:
        if r.kind == kind and _under(term, r.old):
            return r.new + term[len(r.old):]
    return term


def _rewrite(node: Any, kind: str | None, renames: list[Rename]) -> Any:
    """A copy of the AST node with the renamed ids; `kind` is the dimension the field holding
    this node names (None where it names none)."""
    if isinstance(node, tuple):
        return tuple(_rewrite(x, kind, renames) for x in node)
    if isinstance(node, ast.TermRef):
        return node.model_copy(update={"id": _rename_id(node.id, kind, renames)}) if kind else node
    if isinstance(node, ast.TermDecl):
        return node.model_copy(update={"id": _rename_id(node.id, node.kind, renames)})
    if isinstance(node, ast.Node):
        update = {name: _rewrite(getattr(node, name), _FIELD_KIND.get(name), renames)
                  for name in type(node).model_fields if name != "span"}
        return node.model_copy(update=update)
    return node


def apply_renames(old: Policy, renames: list[Rename]) -> Policy:
    """The old policy as if its terms had been renamed (same source, same lines, same digest)."""
    tree = _rewrite(old.tree, None, renames)
    return Policy(compile_policy(tree, old.source), old.digest, old.warnings)


def semantic_diff(old: Policy, new: Policy) -> DiffResult:
    """guard.diff.semantic_diff, after the renames: a renamed term with its rules is reported
    once, as a Rename in `result.renames`, and the changes are those the renaming leaves."""
    renames = detect_renames(old, new)
    result = diff.semantic_diff(apply_renames(old, renames) if renames else old, new)
    result.renames = renames
    return result
