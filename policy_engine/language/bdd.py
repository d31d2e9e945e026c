"""Conditions as binary decision diagrams (the `dd` package). In: ast conditions over a list of
fact names. Out: BDDs, exact answers about them, and an irredundant sum of products.

Why BDDs: a truth table doubles with every fact and a symbolic DNF can blow up on one negated
disjunction (`not ((a0 and b0) or ... or (a12 and b12))` has 8,192 terms); a reduced ordered BDD
of the same function has a few dozen nodes, and "always true", "never true", "the same
function" are pointer comparisons on it. CUDD (`dd.cudd`) is used when its extension is built,
the pure-Python `dd.autoref` otherwise: both give the same functions, so the same answers.

Each `Space` is one manager with the facts declared in name order and reordering off, so what is
computed from it (the ISOP below) is deterministic. A manager is not thread-safe: a Space is
made, used and dropped by one caller, never shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from policy_engine.language import ast
from policy_engine.language.cubes import Cube

try:  # CUDD when the compiled extension is there: same results, faster
    from dd import cudd as _backend
except ImportError:  # pragma: no cover - depends on how dd was built
    from dd import autoref as _backend  # type: ignore[no-redef]

BACKEND = _backend.__name__
NODE_BUDGET = 200_000  # nodes in one manager before a condition counts as too complex


class TooComplex(Exception):
    """A BDD outgrew the node budget: the condition is too large to decide within bounded work."""


class TooManyCubes(Exception):
    """The irredundant sum of products has more terms than the caller asked for."""


class Space:
    def __init__(self, names: Sequence[str], budget: int | None = None, backend: Any = None):
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}
        module = backend or _backend
        # A small start for CUDD (its default reserves for 1 GiB: ~10 ms per manager); it grows.
        self.bdd: Any = (module.BDD(memory_estimate=1 << 24, initial_cache_size=1 << 12)
                         if module.__name__ == "dd.cudd" else module.BDD())
        self.bdd.configure(reordering=False)
        if self.names:
            self.bdd.declare(*self.names)
        self.budget = budget
        self.true = self.bdd.true
        self.false = self.bdd.false

    def guard(self, f: Any) -> Any:
        if self.budget is not None and len(self.bdd) > self.budget:
            raise TooComplex
        return f

    def of(self, cond: bool | ast.Condition | None) -> Any:
        """The BDD of a condition; None (no condition) and True are true, False is false."""
        if cond is None or cond is True:
            return self.true
        if cond is False:
            return self.false
        if isinstance(cond, ast.FactRef):
            return self.bdd.var(cond.name)
        if isinstance(cond, ast.Not):
            return ~self.of(cond.operand)
        conjunctive = isinstance(cond, ast.And)
        out = self.true if conjunctive else self.false
        for operand in cond.operands:
            part = self.of(operand)
            out = self.guard(out & part if conjunctive else out | part)
            if out == (self.false if conjunctive else self.true):
                break  # the rest cannot change it
        return out

    def any_of(self, conds: Iterable[bool | ast.Condition | None]) -> Any:
        out = self.false
        for c in conds:
            out = self.guard(out | self.of(c))
        return out

    # ---- an irredundant sum of products (Minato-Morreale) ------------------------------

    def isop(self, f: Any, limit: int | None = None) -> list[Cube]:
        """Cubes whose disjunction is exactly f, none implied by the others. Raises
        TooManyCubes beyond `limit` terms (the caller then writes the function another way)."""
        memo: dict[tuple[Any, Any], tuple[tuple[Cube, ...], Any]] = {}
        try:
            return list(self._isop(f, f, memo, limit)[0])
        finally:
            memo.clear()  # drop the Functions now, while their manager is alive

    def isop_between(self, lower: Any, upper: Any, limit: int | None = None) -> list[Cube]:
        """Cubes whose disjunction g has lower <= g <= upper (an irredundant cover of an
        incompletely specified function: `upper and not lower` are don't-cares)."""
        memo: dict[tuple[Any, Any], tuple[tuple[Cube, ...], Any]] = {}
        try:
            return list(self._isop(lower, upper, memo, limit)[0])
        finally:
            memo.clear()

    def _isop(self, lower: Any, upper: Any, memo: dict[tuple[Any, Any], tuple[tuple[Cube, ...], Any]],
              limit: int | None) -> tuple[tuple[Cube, ...], Any]:
        # A method, not a nested closure: a self-referencing closure would put the manager in a
        # reference cycle, and the cycle collector may finalise a manager before its nodes.
        if lower == self.false:
            return (), self.false
        if upper == self.true:
            return ((0, 0),), self.true
        hit = memo.get((lower, upper))
        if hit is not None:
            return hit
        bdd = self.bdd
        # the top variable of the two (one in the support, so the recursion ends)
        var = min((g.var for g in (lower, upper) if g.var is not None), key=bdd.level_of_var)
        bit = 1 << self.index[var]
        l0, l1 = bdd.let({var: False}, lower), bdd.let({var: True}, lower)
        u0, u1 = bdd.let({var: False}, upper), bdd.let({var: True}, upper)
        c0, f0 = self._isop(l0 & ~u1, u0, memo, limit)
        c1, f1 = self._isop(l1 & ~u0, u1, memo, limit)
        cs, fs = self._isop((l0 & ~f0) | (l1 & ~f1), u0 & u1, memo, limit)
        x = bdd.var(var)
        cubes = tuple((p, n | bit) for p, n in c0) + tuple((p | bit, n) for p, n in c1) + cs
        if limit is not None and len(cubes) > limit:
            raise TooManyCubes
        out = (cubes, (~x & f0) | (x & f1) | fs)
        memo[(lower, upper)] = out
        return out
