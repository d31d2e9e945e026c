"""Checked AST -> compiled policy, by named passes. In: ast.PolicyFile + its Source (checked, no
errors). Out: CompiledPolicy (vocabulary, rule table, networkx graph, decision index), frozen.

Each pass reads what the passes before it built and returns its own part; the parts become one
frozen CompiledPolicy at the end, so nothing is ever half-built or changed after compilation.

The graph (built on first use) is what the data map and the exports read: declared terms are typed nodes with
`narrower` edges from parent to child; each rule joins its data terms (or the `data:*` node,
all data) and its sources to its purposes and recipients (to the `action:<action>` node when it
names neither), every edge carrying the rule's effect, action, condition, basis and location.
The decision index (`index.py`) is derived once from the vocabulary and the rule table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

import networkx as nx

from policy_engine.engine.index import DIMENSIONS, DecisionIndex, bits, build_index
from policy_engine.engine.vocabulary import FrozenDict, Term, Vocabulary, build_vocabulary
from policy_engine.language import ast, logic, timelimits
from policy_engine.language.printer import format_condition, format_rule
from policy_engine.language.source import Source

ALL_DATA_NODE = "data:*"

__all__ = ["ALL_DATA_NODE", "DIMENSIONS", "PASSES", "CompiledPolicy", "CompiledRule", "DecisionIndex", "FrozenDict",
           "Term", "Vocabulary", "bits", "compile_policy", "node_id"]


# ---- rule table ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledRule:
    index: int
    effect: str
    action: str
    data: tuple[str, ...] | None  # None: all data
    sources: tuple[str, ...]
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]
    condition: ast.Condition | None
    basis: str | None
    section: str
    file: str
    line: int
    text: str  # printer.format_rule: the rule on one line, as reasons quote it
    facts: frozenset[str]
    predicate: Callable[[frozenset[str]], bool] | None  # None: unconditional
    # the rule's time limit as written; `condition` holds it as an atom (language.timelimits)
    time: ast.TimeLimit | None = None
    destinations: tuple[str, ...] = ()  # a transfer's regions (engine/transfers.py); () open
    safeguard: str | None = None  # what an allowed transfer relies on

    def terms(self, dim: str) -> tuple[str, ...] | None:
        """The rule's terms on a dimension; () is open (and None is all data)."""
        return {"data": self.data, "source": self.sources, "purpose": self.purposes,
                "recipient": self.recipients, "destination": self.destinations}[dim]

    def holds(self, true_facts: frozenset[str]) -> bool:
        return self.predicate is None or self.predicate(true_facts)

    @property
    def condition_text(self) -> str | None:
        return None if self.condition is None else format_condition(self.condition)


# ---- the compiled policy ------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledPolicy:
    """Everything the engine, the data map and the guardrails read; built once, never changed."""

    source: Source
    tree: ast.PolicyFile
    name: str
    metadata: Mapping[str, Any]
    vocabulary: Vocabulary
    rules: tuple[CompiledRule, ...]
    index: DecisionIndex

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The terms and rules as a frozen graph, built on first use (the data map, `graph`
        export): deciding never reads it, and on a 10,000-rule policy it was a third of the load."""
        return build_graph(self.vocabulary, self.rules, self.name)


def node_id(kind: str, term_id: str) -> str:
    return f"{kind}:{term_id}"


Built = Mapping[str, Any]  # what the passes so far built, by CompiledPolicy field name


def resolve_vocabulary(built: Built) -> dict[str, Any]:
    return {"vocabulary": build_vocabulary(built["tree"])}


def collect_rules(built: Built) -> dict[str, Any]:
    source: Source = built["source"]
    tree: ast.PolicyFile = built["tree"]
    out: list[CompiledRule] = []
    for section, rule in tree.rules():
        line = source.position(rule.span.start)[0] if rule.span is not None else 0
        condition = timelimits.rule_condition(rule)  # a time limit is part of the condition (an atom)
        out.append(CompiledRule(
            index=len(out),
            effect=rule.effect,
            action=rule.action,
            data=None if rule.data is None else tuple(dict.fromkeys(r.id for r in rule.data)),
            sources=tuple(dict.fromkeys(r.id for r in rule.sources)),
            purposes=tuple(dict.fromkeys(r.id for r in rule.purposes)),
            recipients=tuple(dict.fromkeys(r.id for r in rule.recipients)),
            condition=condition,
            basis=rule.basis.id if rule.basis is not None else None,
            section=section.title,
            file=source.path,
            line=line,
            text=format_rule(rule),
            facts=logic.facts_of(condition),
            predicate=None if condition is None else logic.compile_predicate(condition),
            time=rule.time,
            destinations=tuple(dict.fromkeys(r.id for r in rule.destinations)),
            safeguard=rule.safeguard.id if rule.safeguard is not None else None,
        ))
    meta = tree.meta
    name = meta.name if meta is not None else (source.path.rsplit("/", 1)[-1].removesuffix(".policy"))
    metadata = FrozenDict({
        "name": name,
        "controller": meta.controller if meta else None,
        "contact": meta.contact if meta else None,
        "updated": meta.updated.isoformat() if meta and meta.updated else None,
    })
    return {"rules": tuple(out), "name": name, "metadata": metadata}


def build_graph(vocabulary: Vocabulary, rules: tuple[CompiledRule, ...], name: str) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(name=name)
    for kind, ids in vocabulary.terms.items():
        for term in ids.values():
            g.add_node(node_id(kind, term.id), kind=kind, id=term.id, label=term.label)
    for kind, ids in vocabulary.terms.items():
        for term in ids.values():
            if term.parent is not None:
                g.add_edge(node_id(kind, term.parent), node_id(kind, term.id), key="narrower", relation="narrower")
    edges = []
    for rule in rules:
        subjects = [ALL_DATA_NODE] if rule.data is None else [node_id("data", d) for d in rule.data]
        subjects += [node_id("source", s) for s in rule.sources]
        objects = [node_id("purpose", p) for p in rule.purposes] + [node_id("recipient", r) for r in rule.recipients]
        if not objects:
            objects = [node_id("action", rule.action)]
        attrs = {"relation": "rule", "rule": rule.index, "effect": rule.effect, "action": rule.action,
                 "condition": rule.condition_text, "basis": rule.basis, "file": rule.file, "line": rule.line,
                 "section": rule.section}
        edges.extend((u, v, f"rule{rule.index}", attrs) for u in subjects for v in objects)
    for extra in {e[0] for e in edges} | {e[1] for e in edges}:
        if extra not in g:
            kind, _, term_id = extra.partition(":")
            label = "All data" if extra == ALL_DATA_NODE else f"{term_id} (action)"
            g.add_node(extra, kind=kind, id=term_id, label=label)
    g.add_edges_from(edges)
    return nx.freeze(g)


def index_rules(built: Built) -> dict[str, Any]:
    return {"index": build_index(built["vocabulary"], built["rules"])}


PASSES: list[tuple[str, Callable[[Built], dict[str, Any]]]] = [
    ("resolve_vocabulary", resolve_vocabulary),
    ("collect_rules", collect_rules),
    ("build_index", index_rules),
]


def compile_policy(tree: ast.PolicyFile, source: Source) -> CompiledPolicy:
    """INVARIANT: `tree` passed check() without errors; nothing here re-validates it."""
    built: dict[str, Any] = {"source": source, "tree": tree}
    for _name, run in PASSES:
        built.update(run(MappingProxyType(built)))
    return CompiledPolicy(**built)
