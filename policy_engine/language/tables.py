"""Truth tables of conditions over at most EXACT_MAX facts, and the exact minimum cover.

A truth table is a Python int: bit m is the value under assignment m, where bit i of m is
fact `names[i]`. Small functions (every hand-written policy's) are minimised exactly here:
all prime implicants by cofactor recursion, then a minimum cover (fewest terms, then fewest
literals; branch and bound). Above EXACT_MAX facts `logic` works on BDDs instead (`bdd`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from policy_engine.language import ast
from policy_engine.language.cubes import Cube, literal_count as _literal_count

EXACT_MAX = 12  # facts in one truth table; beyond it, BDDs
COVER_NODE_LIMIT = 20_000  # branch-and-bound nodes before settling for the best cover found


@functools.lru_cache(maxsize=64)
def masks(n: int) -> tuple[int, tuple[int, ...]]:
    """FULL (all 2**n assignments) and, per fact i, the assignments where it holds."""
    size = 1 << n
    full = (1 << size) - 1
    per_fact = []
    for i in range(n):
        half = 1 << i
        pattern = ((1 << half) - 1) << half  # 0...01...1 over one block of 2*half
        width = 2 * half
        while width < size:
            pattern |= pattern << width
            width *= 2
        per_fact.append(pattern)
    return full, tuple(per_fact)


def truth_table(cond: bool | ast.Condition | None, names: Sequence[str]) -> int:
    full, fact_masks = masks(len(names))
    if cond is None or cond is True:
        return full
    if cond is False:
        return 0
    index = {name: i for i, name in enumerate(names)}

    def tt(c: ast.Condition) -> int:
        if isinstance(c, ast.FactRef):
            return fact_masks[index[c.name]]
        if isinstance(c, ast.Not):
            return full ^ tt(c.operand)
        parts = [tt(o) for o in c.operands]
        out = parts[0]
        if isinstance(c, ast.And):
            for p in parts[1:]:
                out &= p
        else:
            for p in parts[1:]:
                out |= p
        return out

    return tt(cond)


def cube_table(cube: Cube, n: int) -> int:
    full, fact_masks = masks(n)
    out = full
    pos, neg = cube
    for i in range(n):
        if pos >> i & 1:
            out &= fact_masks[i]
        elif neg >> i & 1:
            out &= full ^ fact_masks[i]
    return out


def prime_implicants(table: int, n: int) -> list[Cube]:
    """Every prime implicant of the function, by the cofactor recursion
    P(f) = P(f0 & f1) + {x'p : p in P(f0), p not <= f1} + {xp : p in P(f1), p not <= f0}."""
    full, fact_masks = masks(n)

    @functools.cache
    def primes(f: int, i: int) -> tuple[Cube, ...]:
        if f == 0:
            return ()
        if f == full:
            return ((0, 0),)
        while i >= 0:
            m, shift = fact_masks[i], 1 << i
            f0 = f & ~m & full
            f0 |= f0 << shift
            f1 = f & m
            f1 |= f1 >> shift
            if f0 != f1:
                break
            i -= 1  # f does not depend on fact i
        else:  # pragma: no cover - a non-constant function depends on some fact
            raise AssertionError("non-constant function with no variable")
        out = list(primes(f0 & f1, i - 1))
        for pos, neg in primes(f0, i - 1):
            if cube_table((pos, neg), n) & ~f1 & full:
                out.append((pos, neg | 1 << i))
        for pos, neg in primes(f1, i - 1):
            if cube_table((pos, neg), n) & ~f0 & full:
                out.append((pos | 1 << i, neg))
        return tuple(out)

    return sorted(set(primes(table, n - 1)), key=lambda c: (_literal_count(c), c))


def minimum_cover(table: int, primes: Sequence[Cube], n: int) -> list[Cube]:
    """A cover of the function by its primes with the fewest terms, then the fewest literals."""
    tables = [cube_table(p, n) for p in primes]
    costs = [1000 + _literal_count(p) for p in primes]

    # Essential primes first: the only cover of some assignment.
    chosen: list[int] = []
    covered = 0
    remaining = table
    while remaining:
        low = remaining & -remaining
        holders = [j for j, t in enumerate(tables) if t & low]
        if len(holders) == 1 and holders[0] not in chosen:
            chosen.append(holders[0])
            covered |= tables[holders[0]]
        remaining &= ~low
    uncovered = table & ~covered
    if not uncovered:
        return [primes[j] for j in sorted(chosen)]

    candidates = [j for j in range(len(primes)) if j not in chosen and tables[j] & uncovered]

    # Greedy cover as the first bound.
    greedy: list[int] = []
    left = uncovered
    while left:
        j = max(candidates, key=lambda k: ((tables[k] & left).bit_count(), -costs[k]))
        greedy.append(j)
        left &= ~tables[j]
    best = [sum(costs[j] for j in greedy), greedy]
    nodes = 0

    def search(left: int, picked: list[int], cost: int) -> None:
        nonlocal nodes
        nodes += 1
        if cost >= best[0] or nodes > COVER_NODE_LIMIT:
            return
        if not left:
            best[0], best[1] = cost, list(picked)
            return
        # branch on the uncovered assignment with the fewest primes covering it (first 64 looked at)
        pick, fewest, probe, seen = 0, None, left, 0
        while probe and seen < 64:
            low = probe & -probe
            holders = [j for j in candidates if tables[j] & low]
            if fewest is None or len(holders) < len(fewest):
                pick, fewest = low, holders
            probe &= ~low
            seen += 1
        assert fewest is not None and pick
        for j in sorted(fewest, key=lambda k: (costs[k], k)):
            picked.append(j)
            search(left & ~tables[j], picked, cost + costs[j])
            picked.pop()

    search(uncovered, [], 0)
    return [primes[j] for j in sorted(chosen + best[1])]
