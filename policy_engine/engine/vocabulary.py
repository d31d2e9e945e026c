"""The declared terms of a compiled policy. In: the checked AST's declarations. Out: Vocabulary
(kind -> id -> Term, read-only, and each term's chain of ancestors), built once by the compiler.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from policy_engine.language import ast, implication, logic, timelimits



@dataclass(frozen=True, slots=True)
class Term:
    """A declared term: `data cookie.essential "Essential cookies"`."""

    kind: str
    id: str
    label: str
    parent: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "label": self.label, "parent": self.parent}


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict no one can change: JSON encoders see a dict, writers get a TypeError."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a compiled policy's vocabulary is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


@dataclass(frozen=True)
class Vocabulary:
    """For each kind the declared terms (in declaration order), and the hierarchy."""

    terms: Mapping[str, Mapping[str, Term]]
    ancestors: Mapping[tuple[str, str], tuple[str, ...]]  # (kind, id) -> id and its ancestors, self first
    # fact id -> the facts it makes hold (itself, its dotted ancestors, what it declares it implies,
    # transitively); only facts that imply another are listed, so a policy without any costs nothing.
    implied: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    # whether some rule has a time limit (language.timelimits): only then do conditions hold atoms
    timed: bool = False

    def close(self, facts: frozenset[str]) -> frozenset[str]:
        """The facts that hold when `facts` are listed: closed under implication."""
        implied = self.implied
        if not implied or not any(f in implied for f in facts):
            return facts
        out = set(facts)
        for f in facts:
            out |= implied.get(f, frozenset())
        return frozenset(out)

    def care(self, facts: frozenset[str]) -> ast.Condition | None:
        """The implications among `facts` as one condition, or None: a partial evaluation's care set.
        With time limits, also what ties each atom to its anchor (`timelimits.care`)."""
        if not self.timed:
            return implication.care(self.implied, facts) if self.implied else None
        time_care = timelimits.care(facts)
        if time_care is not None:
            facts = facts | logic.facts_of(time_care)
        fact_care = implication.care(self.implied, facts) if self.implied else None
        if time_care is None or fact_care is None:
            return time_care or fact_care
        return ast.And(operands=(time_care, fact_care))

    def has(self, kind: str, term_id: str) -> bool:
        return term_id in self.terms[kind]

    def kinds_of(self, term_id: str) -> list[str]:
        return [k for k, ids in self.terms.items() if term_id in ids]

    def suggest(self, kind: str, word: str, n: int = 3) -> list[str]:
        """The nearest declared ids of that kind: close spellings, then ids whose last part matches."""
        ids = list(self.terms[kind])
        close = difflib.get_close_matches(word, ids, n=n, cutoff=0.6)
        if len(close) < n:
            tail = word.rsplit(".", 1)[-1]
            close += [i for i in ids if i.rsplit(".", 1)[-1] == tail and i not in close][: n - len(close)]
        return close

    def descendants(self, kind: str, term_id: str) -> list[str]:
        prefix = term_id + "."
        return [i for i in self.terms[kind] if i.startswith(prefix)]

    def counts(self) -> dict[str, int]:
        # sub-actions only where the policy declares some: a policy without any reads as before
        return {kind: len(ids) for kind, ids in self.terms.items() if ids or kind not in ("action", "region", "safeguard")}




def build_vocabulary(tree: ast.PolicyFile) -> Vocabulary:
    """INVARIANT: the checker has proven every id unique per kind and every parent declared, so a
    term's ancestors are its dotted prefixes."""
    by_kind: dict[str, dict[str, Term]] = {kind: {} for kind in ast.TERM_KINDS}
    ancestors: dict[tuple[str, str], tuple[str, ...]] = {}
    for decl in tree.terms:
        by_kind[decl.kind][decl.id] = Term(decl.kind, decl.id, decl.label, decl.parent)
        parts = decl.id.split(".")
        ancestors[(decl.kind, decl.id)] = tuple(".".join(parts[:i]) for i in range(len(parts), 0, -1))
    for action in ast.ACTIONS:  # the four actions are not declared; their sub-actions are
        ancestors[("action", action)] = (action,)
    timed = any(rule.time is not None or any(" " in f for f in logic.facts_of(rule.condition))
                for _, rule in tree.rules())
    return Vocabulary(FrozenDict({k: FrozenDict(v) for k, v in by_kind.items()}), MappingProxyType(ancestors),
                      MappingProxyType(implication.closure(tree.terms)), timed)

