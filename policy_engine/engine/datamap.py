"""The data map: the questions a data-protection officer asks of a whole policy.
In: a CompiledPolicy (its graph and vocabulary) and its Engine. Out: MapRow / RuleRef lists.

Every answer is computed with the engine itself (so hierarchy, fail-closed denies and
conditions count exactly as in a decision), over the candidates the graph and vocabulary
give; rows that only repeat a more general row (a parent term, or "any source") with the
same answer are left out, so `marketing` stands for its children when they agree.

- uses(data, source)           what may data X (from source S) be used for, and when
- recipients(data, source)     who may receive X
- data_for(recipient)          which data reach recipient R
- rules_for_purpose(purpose)   which rules cover purpose P (and which name a narrower one)
- without_consent()            what the policy allows when no fact at all holds
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from policy_engine.engine.compiler import CompiledPolicy, CompiledRule, node_id
from policy_engine.language import ast
from policy_engine.engine.engine import Engine
from policy_engine.engine.query import Key, Reason


@dataclass(frozen=True)
class MapRow:
    """One answer of the map: the question's terms (None: not named) and the decision."""

    action: str
    data: str
    source: str | None
    purpose: str | None
    recipient: str | None
    decision: str
    requires: str | None
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "data": self.data, "source": self.source, "purpose": self.purpose,
                "recipient": self.recipient, "decision": self.decision, "requires": self.requires,
                "rules": [{"rule": r.rule, "file": r.file, "line": r.line, "section": r.section, "basis": r.basis,
                           **({"limit": r.limit} if r.limit else {})} for r in self.reasons]}


@dataclass(frozen=True)
class RuleRef:
    """A rule as the map lists it; `relation` says how it concerns the term asked about."""

    relation: str  # "covers" (names the term or an ancestor of it) or "narrower" (names a descendant)
    effect: str
    action: str
    rule: str
    condition: str | None
    basis: str | None
    file: str
    line: int
    section: str

    @classmethod
    def of(cls, relation: str, r: CompiledRule) -> RuleRef:
        return cls(relation, r.effect, r.action, r.text, r.condition_text, r.basis, r.file, r.line, r.section)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


DIMS = ast.DIMENSIONS


class DataMap:
    def __init__(self, cp: CompiledPolicy, engine: Engine):
        self.cp = cp
        self.vocab = cp.vocabulary
        self.engine = engine

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The compiled graph, built when a map question first needs it (loading does not)."""
        return self.cp.graph

    # ---- the questions ---------------------------------------------------------------

    def uses(self, data: str, source: str | None = None, facts: Iterable[str] | None = None) -> list[MapRow]:
        sources = [source] if source is not None else self._with_none("source")
        return self._table("use", {"data": [data], "source": sources, "purpose": self._ids("purpose"),
                                   "recipient": [None]}, facts, vary=("source", "purpose"))

    def recipients(self, data: str, source: str | None = None, facts: Iterable[str] | None = None) -> list[MapRow]:
        """A share rule may name the purpose it serves (`allow share of email for delivery with courier`):
        the purpose is a dimension of the question too, so every purpose is asked as well as none."""
        sources = [source] if source is not None else self._with_none("source")
        return self._table("share", {"data": [data], "source": sources, "purpose": self._with_none("purpose"),
                                     "recipient": self._ids("recipient")}, facts,
                           vary=("source", "purpose", "recipient"))

    def data_for(self, recipient: str, facts: Iterable[str] | None = None) -> list[MapRow]:
        """Which data reach the recipient or one of its narrower recipients (a rule sharing with
        `service_provider.payment` answers `data --recipient service_provider` too)."""
        recipients = [recipient, *self.vocab.descendants("recipient", recipient)]
        return self._table("share", {"data": self._ids("data"), "source": self._with_none("source"),
                                     "purpose": self._with_none("purpose"), "recipient": recipients}, facts,
                           vary=("data", "source", "purpose", "recipient"))

    def rules_for_purpose(self, purpose: str) -> list[RuleRef]:
        """Read off the graph: rule edges into the purpose, its ancestors and its descendants."""
        covering = set(self.vocab.ancestors[("purpose", purpose)])
        narrower = set(self.vocab.descendants("purpose", purpose))
        found: dict[int, str] = {}
        for term in sorted(covering | narrower):
            for _, _, attrs in self.graph.in_edges(node_id("purpose", term), data=True):
                if attrs.get("relation") == "rule":
                    relation = "covers" if term in covering else "narrower"
                    if found.get(attrs["rule"]) != "covers":
                        found[attrs["rule"]] = relation
        return [RuleRef.of(found[i], self.cp.rules[i]) for i in sorted(found)]

    def without_consent(self) -> list[MapRow]:
        """Every question an allow rule answers, asked with no fact holding, that is allowed."""
        rows: dict[Key, MapRow] = {}
        roots = [t for t, term in self.vocab.terms["data"].items() if term.parent is None]
        none: frozenset[str] = frozenset()
        for rule in self.cp.rules:
            if rule.effect != "allow" or not rule.holds(none):
                continue
            choices = [rule.data or tuple(roots), rule.sources or (None,), rule.purposes or (None,),
                       rule.recipients or (None,)]
            for data, source, purpose, recipient in itertools.product(*choices):
                key = Key(rule.action, data, source, purpose, recipient, none)
                if key in rows:
                    continue
                decision = self.engine.decide(key)
                if decision.decision == "allow":
                    rows[key] = MapRow(rule.action, data, source, purpose, recipient, "allow", None, decision.reasons)
        return sorted(rows.values(), key=_row_order)

    # ---- helpers -------------------------------------------------------------------------

    def _ids(self, kind: str) -> list[str | None]:
        return list(self.vocab.terms[kind])

    def _with_none(self, kind: str) -> list[str | None]:
        return [None, *self.vocab.terms[kind]]

    def _parent(self, dim: str, term: str | None) -> str | None | bool:
        """One step more general: the parent term, or None (not named) for sources and recipients;
        False when there is nothing more general."""
        if term is None:
            return False
        parent = self.vocab.terms[dim][term].parent
        if parent is not None:
            return parent
        return None if dim in ("source", "purpose", "recipient") else False

    def _table(self, action: str, axes: dict[str, list[str | None]], facts: Iterable[str] | None,
               vary: tuple[str, ...]) -> list[MapRow]:
        held = None if facts is None else frozenset(facts)
        index = self.cp.index
        assert index is not None
        answers: dict[tuple[str | None, ...], MapRow] = {}
        for combo in itertools.product(*(axes[d] for d in DIMS)):
            if not index.match(action, *combo) & index.allows:  # type: ignore[arg-type]
                continue  # no allow matches: a deny, whatever the facts
            key = Key(action, *combo, held)  # type: ignore[misc]
            decision = self.engine.decide(key)
            if decision.decision != "deny":
                answers[combo] = MapRow(action, *combo, decision.decision, decision.requires,  # type: ignore[misc]
                                        decision.reasons)
        kept = []
        for combo, row in answers.items():
            if not self._repeats_general(combo, row, answers, vary):
                kept.append(row)
        return sorted(kept, key=_row_order)

    def _repeats_general(self, combo: tuple[str | None, ...], row: MapRow,
                         answers: dict[tuple[str | None, ...], MapRow], vary: tuple[str, ...]) -> bool:
        for dim in vary:
            pos = DIMS.index(dim)
            general = self._parent(dim, combo[pos])
            if general is False:
                continue
            other = answers.get(combo[:pos] + (general,) + combo[pos + 1:])  # type: ignore[operator]
            if other is not None and (other.decision, other.requires) == (row.decision, row.requires):
                return True
        return False


def _row_order(row: MapRow) -> tuple[str, ...]:
    return (row.action, row.data, row.source or "", row.purpose or "", row.recipient or "")
