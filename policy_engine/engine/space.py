"""The question space, in classes no rule tells apart. In: compiled policies, an action, a
scope. Out: QuestionClass values (every question of a class matches the same rules in each
policy, so each policy answers all of them alike).

A question names an action, a data term, and a source, purpose and recipient term or none
(none only where the action does not require the dimension; docs/semantics.md). Which rules match
it is the AND of the decision index's per-dimension bitsets (compiler.DecisionIndex), so the
space is split one dimension at a time: the values of a dimension are grouped by the bitsets
they select, within what the dimensions before already selected. Terms the hierarchy makes
equivalent (a child no rule names behaves as its parent) share a class and are never
enumerated apart, and `prune` drops a whole subtree as soon as it can tell nothing below it
matters (the diff: no changed rule matches it).

Used by diff (two policies), invariants and lint (one policy); the answer for a class comes
from the engine's own `logic` over the matching rules, so nothing here is a second evaluator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from policy_engine.language import ast
from policy_engine.engine.compiler import CompiledPolicy
from policy_engine.engine.index import DIMENSIONS, open_on


def in_scope(value: str | None, terms: Sequence[str]) -> bool:
    """Whether a question's term lies under one of `terms` (itself or a descendant)."""
    return value is not None and any(value == t or value.startswith(t + ".") for t in terms)


@dataclass(frozen=True)
class QuestionClass:
    """Questions alike for every policy given: `values[dim]` are the terms (None: left out) the
    class takes on each dimension; `matches[i]` the rules of policy i that match (a bitset)."""

    action: str
    values: dict[str, tuple[str | None, ...]]
    matches: tuple[int, ...]

    def representative(self) -> dict[str, str | None]:
        """The simplest question of the class: a dimension left out where the class allows it."""
        q: dict[str, str | None] = {"action": self.action}
        for dim in DIMENSIONS:
            vals = self.values[dim]
            q[dim] = None if None in vals else vals[0]
        return _without_destination(q)

    def size(self) -> int:
        n = 1
        for dim in DIMENSIONS:
            n *= len(self.values[dim])
        return n

    def questions(self) -> Iterator[dict[str, str | None]]:
        """Every concrete question of the class (docs/semantics.md fields, facts omitted)."""
        def walk(i: int, acc: dict[str, str | None]) -> Iterator[dict[str, str | None]]:
            if i == len(DIMENSIONS):
                yield _without_destination(dict(acc))
                return
            dim = DIMENSIONS[i]
            for v in self.values[dim]:
                acc[dim] = v
                yield from walk(i + 1, acc)
        yield from walk(0, {"action": self.action})


def _without_destination(q: dict[str, str | None]) -> dict[str, str | None]:
    """A question that names no destination leaves the field out (as callers write it)."""
    if q.get(ast.DESTINATION, "") is None:
        del q[ast.DESTINATION]
    return q


Scope = dict[str, Sequence[str]]  # dim -> terms the question's term must lie under (absent: open)
Prune = Callable[[tuple[int, ...], tuple[str, ...]], bool]  # (matches so far, dimensions still open)


def dimension_values(policies: Sequence[CompiledPolicy], action: str, dim: str,
                     scope: Scope | None = None, exclude: Scope | None = None) -> list[str | None]:
    """The values a question may take on `dim`: the terms of every vocabulary (in declaration
    order, first policy first) under the scope and not under `exclude`, and None where the action
    allows leaving the dimension out (and the scope leaves it open)."""
    seen: dict[str | None, None] = {}
    terms = (scope or {}).get(dim)
    excluded = (exclude or {}).get(dim, ())
    for cp in policies:
        assert cp.vocabulary is not None
        for term_id in cp.vocabulary.terms[ast.kind_of(dim)]:
            if (terms is None or in_scope(term_id, terms)) and not in_scope(term_id, excluded):
                seen.setdefault(term_id)
    if terms is None and dim != "data" and ast.required_dimension(action) != dim:
        seen.setdefault(None)
    return list(seen)


def term_bits(cp: CompiledPolicy, dim: str, values: Sequence[str | None]) -> dict[str | None, int]:
    """The rules of `cp` that match a question naming each value on `dim` (the decision index's
    own bitsets). A term `cp` does not declare is answered as `cp` would answer it had it been
    declared with no rule of its own: like its nearest declared ancestor, or, with none, by the
    rules open on the dimension only. So declaring a term changes no answer."""
    assert cp.index is not None and cp.vocabulary is not None
    table = cp.index.dims[dim]
    out: dict[str | None, int] = {}
    open_bits: int | None = None
    for v in values:
        bits = table.get(v)
        if bits is None and v is not None:
            parent = v
            while bits is None and "." in parent:
                parent = parent.rsplit(".", 1)[0]
                bits = table.get(parent)
            if bits is None:
                if open_bits is None:
                    open_bits = open_on(cp.rules, dim)
                bits = open_bits
        out[v] = bits if bits is not None else 0
    return out


def action_bits(cp: CompiledPolicy, action: str) -> int:
    """The rules a question about `action` matches; a sub-action `cp` does not declare is answered
    as its nearest declared ancestor action (declaring a sub-action changes no answer)."""
    assert cp.index is not None
    actions = cp.index.actions
    while action not in actions:
        action = action.rsplit(".", 1)[0]
    return actions[action]


def classes(policies: Sequence[CompiledPolicy], action: str, scope: Scope | None = None,
            prune: Prune | None = None, exclude: Scope | None = None,
            focus: Sequence[int] | None = None) -> Iterator[QuestionClass]:
    """Every class of questions about `action` within `scope` (and outside `exclude`), refined
    dimension by dimension. `prune(matches, remaining)` is asked after each dimension (`remaining`:
    the dimensions not yet refined); True drops everything below. `focus` (a bitset of rules per
    policy) restricts the walk to questions some of those rules match: values no focus rule
    matches are skipped, and the dimensions where the focus rules leave the fewest values are
    refined first (on a tie, the one the most rules constrain, so that rules open on everything
    left are known to match early)."""
    values = [dimension_values(policies, action, dim, scope, exclude) for dim in DIMENSIONS]
    tables = [[term_bits(cp, dim, values[d]) for cp in policies] for d, dim in enumerate(DIMENSIONS)]
    start = []
    for cp in policies:
        assert cp.index is not None
        start.append(action_bits(cp, action))
    order = list(range(len(DIMENSIONS)))
    if focus is not None:
        wanted = [f & a for f, a in zip(focus, start)]
        if not any(wanted):
            return
        for d in order:
            values[d] = [v for v in values[d] if any(w & t[v] for w, t in zip(wanted, tables[d]))]
        constrained = [sum(1 for cp in policies for r in cp.rules if r.action == action and r.terms(DIMENSIONS[d]))
                       for d in order]
        order.sort(key=lambda d: (len(values[d]), -constrained[d]))
    yield from _refine(action, [DIMENSIONS[d] for d in order], [values[d] for d in order],
                       [tables[d] for d in order], 0, tuple(start), {}, prune)


def _refine(action: str, dims: list[str], values: list[list[str | None]], tables: list[list[dict[str | None, int]]],
            depth: int, masks: tuple[int, ...], chosen: dict[str, tuple[str | None, ...]],
            prune: Prune | None) -> Iterator[QuestionClass]:
    if depth == len(dims):
        yield QuestionClass(action, {dim: chosen[dim] for dim in DIMENSIONS}, masks)
        return
    dim = dims[depth]
    groups: dict[tuple[int, ...], list[str | None]] = {}
    level = tables[depth]
    for v in values[depth]:
        key = tuple(mask & table[v] for mask, table in zip(masks, level))
        if prune is not None and key not in groups and prune(key, tuple(dims[depth + 1:])):
            continue
        groups.setdefault(key, []).append(v)
    for key, members in groups.items():
        chosen[dim] = tuple(members)
        yield from _refine(action, dims, values, tables, depth + 1, key, chosen, prune)
    chosen.pop(dim, None)
