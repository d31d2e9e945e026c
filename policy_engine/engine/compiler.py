"""Checked AST -> compiled policy, by named passes. In: ast.Policy + its Source (checked, no
errors). Out: CompiledPolicy (vocabulary, rule table, networkx graph, decision index).

The graph is what the data map and the exports read: declared terms are typed nodes with
`narrower` edges from parent to child; each rule joins its data terms (or the `data:*` node,
all data) and its sources to its purposes and recipients (to the `action:<action>` node when it
names neither), every edge carrying the rule's effect, action, condition, basis and location.

The decision index is derived once, from the graph's hierarchy and the rule table, so a
decision never walks the graph: per dimension and term, the bitset (a Python int, bit i =
rule i) of the rules that match a query naming that term, ancestors and open dimensions
included; for a dimension the query leaves out, the rules open there plus the denies that
constrain it (fail closed). A decision is then a few ANDs of ints.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import networkx as nx

from policy_engine.language import ast
from policy_engine.language import logic
from policy_engine.language.printer import format_condition, format_rule
from policy_engine.language.source import Source

DIMENSIONS: tuple[str, ...] = ("data", "source", "purpose", "recipient")
ALL_DATA_NODE = "data:*"


# ---- vocabulary --------------------------------------------------------------------------


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
        return {kind: len(ids) for kind, ids in self.terms.items()}


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

    def terms(self, dim: str) -> tuple[str, ...] | None:
        """The rule's terms on a dimension; () is open (and None is all data)."""
        return {"data": self.data, "source": self.sources, "purpose": self.purposes,
                "recipient": self.recipients}[dim]

    def holds(self, true_facts: frozenset[str]) -> bool:
        return self.predicate is None or self.predicate(true_facts)

    @property
    def condition_text(self) -> str | None:
        return None if self.condition is None else format_condition(self.condition)


# ---- the decision index -----------------------------------------------------------------


@dataclass(frozen=True)
class DecisionIndex:
    """Bitsets over the rule table. `dims[dim][term]`: the rules matching a query that names
    `term` on `dim`; `dims[dim][None]`: those matching a query that leaves `dim` out."""

    actions: Mapping[str, int]
    dims: Mapping[str, Mapping[str | None, int]]
    allows: int
    denies: int

    def match(self, action: str, data: str, source: str | None, purpose: str | None, recipient: str | None) -> int:
        dims = self.dims
        return (self.actions[action] & dims["data"][data] & dims["source"][source] & dims["purpose"][purpose]
                & dims["recipient"][recipient])


_BYTE_BITS = tuple(tuple(i for i in range(8) if b >> i & 1) for b in range(256))
_NONZERO = bytes([0] + [1] * 255)
_WIDE = 4096  # above this many bits, scan bytes instead of peeling bits off a wide int


def bits(m: int) -> list[int]:
    """The rule indices in a bitset, lowest first. Peeling the lowest bit costs a pass over the
    whole int per rule found; for wide sets the bytes are scanned once instead."""
    out: list[int] = []
    if m.bit_length() <= _WIDE:
        while m:
            low = m & -m
            out.append(low.bit_length() - 1)
            m ^= low
        return out
    raw = m.to_bytes((m.bit_length() + 7) >> 3, "little")
    find = raw.translate(_NONZERO).find
    pos = find(1)
    while pos >= 0:
        base = pos << 3
        for i in _BYTE_BITS[raw[pos]]:
            out.append(base + i)
        pos = find(1, pos + 1)
    return out


def _bitset(indices: list[int], size: int) -> int:
    if not indices:
        return 0
    buf = bytearray((size + 7) // 8)
    for i in indices:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


# ---- the compiled policy ------------------------------------------------------------------


@dataclass
class CompiledPolicy:
    """Built by the passes below, then never changed (the graph is frozen)."""

    source: Source
    tree: ast.Policy
    name: str = ""
    vocabulary: Vocabulary | None = None
    rules: tuple[CompiledRule, ...] = ()
    graph: nx.MultiDiGraph | None = None
    index: DecisionIndex | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def node_id(kind: str, term_id: str) -> str:
    return f"{kind}:{term_id}"


def resolve_vocabulary(cp: CompiledPolicy) -> None:
    # INVARIANT: the checker has proven every id unique per kind and every parent declared.
    by_kind: dict[str, dict[str, Term]] = {kind: {} for kind in ast.TERM_KINDS}
    for decl in cp.tree.terms:
        by_kind[decl.kind][decl.id] = Term(decl.kind, decl.id, decl.label, decl.parent)
    cp.vocabulary = Vocabulary(FrozenDict({k: FrozenDict(v) for k, v in by_kind.items()}), {})


def collect_rules(cp: CompiledPolicy) -> None:
    source = cp.source
    out: list[CompiledRule] = []
    for section, rule in cp.tree.rules():
        line = source.position(rule.span.start)[0] if rule.span is not None else 0
        out.append(CompiledRule(
            index=len(out),
            effect=rule.effect,
            action=rule.action,
            data=None if rule.data is None else tuple(dict.fromkeys(r.id for r in rule.data)),
            sources=tuple(dict.fromkeys(r.id for r in rule.sources)),
            purposes=tuple(dict.fromkeys(r.id for r in rule.purposes)),
            recipients=tuple(dict.fromkeys(r.id for r in rule.recipients)),
            condition=rule.condition,
            basis=rule.basis.id if rule.basis is not None else None,
            section=section.title,
            file=source.path,
            line=line,
            text=format_rule(rule),
            facts=logic.facts_of(rule.condition),
            predicate=None if rule.condition is None else logic.compile_predicate(rule.condition),
        ))
    cp.rules = tuple(out)
    meta = cp.tree.meta
    cp.name = meta.name if meta is not None else (source.path.rsplit("/", 1)[-1].removesuffix(".policy"))
    cp.metadata = {
        "name": cp.name,
        "controller": meta.controller if meta else None,
        "contact": meta.contact if meta else None,
        "updated": meta.updated.isoformat() if meta and meta.updated else None,
    }


def build_graph(cp: CompiledPolicy) -> None:
    assert cp.vocabulary is not None
    g = nx.MultiDiGraph(name=cp.name)
    for kind, ids in cp.vocabulary.terms.items():
        for term in ids.values():
            g.add_node(node_id(kind, term.id), kind=kind, id=term.id, label=term.label)
    for kind, ids in cp.vocabulary.terms.items():
        for term in ids.values():
            if term.parent is not None:
                g.add_edge(node_id(kind, term.parent), node_id(kind, term.id), key="narrower", relation="narrower")
    edges = []
    for rule in cp.rules:
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
    cp.graph = nx.freeze(g)


def build_index(cp: CompiledPolicy) -> None:
    """Hierarchy from the graph's `narrower` edges; rule terms from the rule table."""
    assert cp.vocabulary is not None and cp.graph is not None
    g = cp.graph
    n = len(cp.rules)
    ancestors: dict[tuple[str, str], tuple[str, ...]] = {}
    for kind, ids in cp.vocabulary.terms.items():
        for term_id in ids:
            chain = [term_id]
            node = node_id(kind, term_id)
            while True:
                parents = [u for u, _, k in g.in_edges(node, keys=True) if k == "narrower"]
                if not parents:
                    break
                node = parents[0]
                chain.append(g.nodes[node]["id"])
            ancestors[(kind, term_id)] = tuple(chain)
    object.__setattr__(cp.vocabulary, "ancestors", MappingProxyType(ancestors))

    actions = {a: _bitset([r.index for r in cp.rules if r.action == a], n) for a in ast.ACTIONS}
    denies = _bitset([r.index for r in cp.rules if r.effect == "deny"], n)
    allows = _bitset([r.index for r in cp.rules if r.effect == "allow"], n)
    dims: dict[str, dict[str | None, int]] = {}
    for dim in DIMENSIONS:
        named: dict[str, list[int]] = {}
        open_rules: list[int] = []
        for rule in cp.rules:
            terms = rule.terms(dim)
            if not terms:  # () open, None all data
                open_rules.append(rule.index)
            else:
                for t in terms:
                    named.setdefault(t, []).append(rule.index)
        open_bits = _bitset(open_rules, n)
        named_bits = {t: _bitset(idx, n) for t, idx in named.items()}
        table: dict[str | None, int] = {}
        for term_id in cp.vocabulary.terms[dim]:
            m = open_bits
            for a in ancestors[(dim, term_id)]:
                m |= named_bits.get(a, 0)
            table[term_id] = m
        constrained = 0
        for b in named_bits.values():
            constrained |= b
        table[None] = open_bits | (constrained & denies)  # fail closed: a deny matches a missing dimension
        dims[dim] = MappingProxyType(table)
    cp.index = DecisionIndex(MappingProxyType(actions), MappingProxyType(dims), allows, denies)


PASSES: list[tuple[str, Callable[[CompiledPolicy], None]]] = [
    ("resolve_vocabulary", resolve_vocabulary),
    ("collect_rules", collect_rules),
    ("build_graph", build_graph),
    ("build_index", build_index),
]


def compile_policy(tree: ast.Policy, source: Source) -> CompiledPolicy:
    """INVARIANT: `tree` passed check() without errors; nothing here re-validates it."""
    cp = CompiledPolicy(source=source, tree=tree)
    for _name, run in PASSES:
        run(cp)
    return cp
