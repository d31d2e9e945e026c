"""Sums of products and their readable form. In: cubes over a list of fact names. Out: an
ast.Condition with common literals factored out and runs of negations folded
(`not a and not b` -> `not (a or b)`), so the text has no `x or x` and no `a and not a`.

Both minimisers produce cubes: `tables` (exact minimum cover, few facts) and `bdd` (an
irredundant sum of products, many facts); this module is where either becomes a condition.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.language import ast

Cube = tuple[int, int]  # (positive literals, negative literals) as bitmasks over fact indices


def literal_count(cube: Cube) -> int:
    return (cube[0] | cube[1]).bit_count()


def _literal(name: str, positive: bool) -> ast.Condition:
    ref = ast.FactRef(name=name)
    return ref if positive else ast.Not(operand=ref)


def and_(parts: list[ast.Condition]) -> ast.Condition:
    flat: list[ast.Condition] = []
    for p in parts:
        flat.extend(p.operands if isinstance(p, ast.And) else [p])
    negated = [p for p in flat if isinstance(p, ast.Not) and isinstance(p.operand, ast.FactRef)]
    if len(negated) >= 2:  # not a and not b -> not (a or b)
        folded = ast.Not(operand=ast.Or(operands=tuple(n.operand for n in negated)))
        first = flat.index(negated[0])
        flat = [p for p in flat if p not in negated]
        flat.insert(first, folded)
    return flat[0] if len(flat) == 1 else ast.And(operands=tuple(flat))


def or_(parts: list[ast.Condition]) -> ast.Condition:
    flat: list[ast.Condition] = []
    for p in parts:
        flat.extend(p.operands if isinstance(p, ast.Or) else [p])
    flat = list(dict.fromkeys(flat))  # `x or x` is x
    return flat[0] if len(flat) == 1 else ast.Or(operands=tuple(flat))


def _literals(cube: Cube, n: int) -> list[tuple[int, bool]]:
    return [(i, True) for i in range(n) if cube[0] >> i & 1] + [(i, False) for i in range(n) if cube[1] >> i & 1]


def factor(cubes: Sequence[Cube], names: Sequence[str]) -> ast.Condition:
    """A sum of products, with the literal shared by most terms factored out, recursively:
    `(a and b) or (a and c)` -> `a and (b or c)`. Literals in name order, positive first."""
    n = len(names)

    def key(lit: tuple[int, bool]) -> tuple[str, bool]:
        return (names[lit[0]], not lit[1])

    def build(group: list[frozenset[tuple[int, bool]]]) -> ast.Condition:
        if len(group) == 1:
            lits = sorted(group[0], key=key)
            return and_([_literal(names[i], pos) for i, pos in lits])
        counts: dict[tuple[int, bool], int] = {}
        for cube in group:
            for lit in cube:
                counts[lit] = counts.get(lit, 0) + 1
        lit, count = min(counts.items(), key=lambda kv: (-kv[1], key(kv[0])))
        if count < 2:
            ordered = sorted(group, key=lambda c: [key(x) for x in sorted(c, key=key)])
            return or_([build([c]) for c in ordered])
        inner = [c - {lit} for c in group if lit in c]
        rest = [c for c in group if lit not in c]
        # INVARIANT: primes never contain one another, so no inner term is empty
        shared = and_([_literal(names[lit[0]], lit[1]), build(inner)])
        if not rest:
            return shared
        return or_([shared, build(rest)])

    return build([frozenset(_literals(c, n)) for c in cubes])
