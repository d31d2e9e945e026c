"""Conditions over facts as Boolean functions. In: ast.Condition. Out: predicates, truth
tables, and the minimal readable form of a requirement (an ast.Condition, or True / False).

The engine's partial evaluation builds `A and not D` (A: the conditions of the matching
allows, D: those of the matching denies) and asks this module for its simplest form:
all prime implicants (by cofactor recursion over a truth table), a minimum cover of them
(fewest terms, then fewest literals; branch and bound), then common literals factored out
and runs of negations folded (`not a and not b` -> `not (a or b)`), so the text has no
`x or x`, no `a and not a`, and a constant collapses to True or False.

Truth tables are Python ints: bit m is the value under assignment m, where bit i of m is
fact `names[i]`. Above EXACT_MAX facts (which no hand-written policy reaches) the
requirement is computed symbolically instead: a DNF closed under consensus (all primes),
still free of repeats and contradictions, but without the minimum-cover step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

from policy_engine.language import ast
from policy_engine.language.checker import evaluate as _evaluate  # one evaluator of a condition for the whole package

Requirement = bool | ast.Condition
Cube = tuple[int, int]  # (positive literals, negative literals) as bitmasks over fact indices

EXACT_MAX = 12  # facts in one requirement; beyond it, the symbolic path
COVER_NODE_LIMIT = 20_000  # branch-and-bound nodes before settling for the best cover found
SYMBOLIC_CUBE_LIMIT = 4_096  # DNF size beyond which the symbolic path gives up simplifying


# ---- facts, evaluation, predicates ---------------------------------------------------


def facts_of(cond: ast.Condition | None) -> frozenset[str]:
    if cond is None:
        return frozenset()
    if isinstance(cond, ast.FactRef):
        return frozenset((cond.name,))
    if isinstance(cond, ast.Not):
        return facts_of(cond.operand)
    return frozenset().union(*(facts_of(o) for o in cond.operands))


def evaluate(cond: Requirement | None, true_facts: Iterable[str]) -> bool:
    """None and True are always true, False never; otherwise the condition under a closed world."""
    if cond is None or cond is True:
        return True
    if cond is False:
        return False
    held = true_facts if isinstance(true_facts, (set, frozenset)) else frozenset(true_facts)
    return _evaluate(cond, held)


def _python(cond: ast.Condition) -> str:
    if isinstance(cond, ast.FactRef):
        return f"({cond.name!r} in F)"
    if isinstance(cond, ast.Not):
        return f"(not {_python(cond.operand)})"
    word = " and " if isinstance(cond, ast.And) else " or "
    return "(" + word.join(_python(o) for o in cond.operands) + ")"


def compile_predicate(cond: ast.Condition) -> Callable[[frozenset[str]], bool]:
    """A plain Python function of the set of true facts. Fact ids are identifiers with dots
    (the grammar's TERM_ID), embedded as string literals, so the generated code is inert."""
    return eval("lambda F: " + _python(cond), {"__builtins__": {}})  # noqa: S307 - literals only


# ---- truth tables ----------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _masks(n: int) -> tuple[int, tuple[int, ...]]:
    """FULL (all 2**n assignments) and, per fact i, the assignments where it holds."""
    size = 1 << n
    full = (1 << size) - 1
    masks = []
    for i in range(n):
        half = 1 << i
        pattern = ((1 << half) - 1) << half  # 0...01...1 over one block of 2*half
        width = 2 * half
        while width < size:
            pattern |= pattern << width
            width *= 2
        masks.append(pattern)
    return full, tuple(masks)


def truth_table(cond: Requirement | None, names: Sequence[str]) -> int:
    full, masks = _masks(len(names))
    if cond is None or cond is True:
        return full
    if cond is False:
        return 0
    index = {name: i for i, name in enumerate(names)}

    def tt(c: ast.Condition) -> int:
        if isinstance(c, ast.FactRef):
            return masks[index[c.name]]
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


def _cube_table(cube: Cube, n: int) -> int:
    full, masks = _masks(n)
    out = full
    pos, neg = cube
    for i in range(n):
        if pos >> i & 1:
            out &= masks[i]
        elif neg >> i & 1:
            out &= full ^ masks[i]
    return out


def _literal_count(cube: Cube) -> int:
    return (cube[0] | cube[1]).bit_count()


def prime_implicants(table: int, n: int) -> list[Cube]:
    """Every prime implicant of the function, by the cofactor recursion
    P(f) = P(f0 & f1) + {x'p : p in P(f0), p not <= f1} + {xp : p in P(f1), p not <= f0}."""
    full, masks = _masks(n)

    @functools.cache
    def primes(f: int, i: int) -> tuple[Cube, ...]:
        if f == 0:
            return ()
        if f == full:
            return ((0, 0),)
        while i >= 0:
            m, shift = masks[i], 1 << i
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
            if _cube_table((pos, neg), n) & ~f1 & full:
                out.append((pos, neg | 1 << i))
        for pos, neg in primes(f1, i - 1):
            if _cube_table((pos, neg), n) & ~f0 & full:
                out.append((pos | 1 << i, neg))
        return tuple(out)

    return sorted(set(primes(table, n - 1)), key=lambda c: (_literal_count(c), c))


def minimum_cover(table: int, primes: Sequence[Cube], n: int) -> list[Cube]:
    """A cover of the function by its primes with the fewest terms, then the fewest literals."""
    tables = [_cube_table(p, n) for p in primes]
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


# ---- symbolic path (many facts) ------------------------------------------------------------


class _TooLarge(Exception):
    pass


def _absorb(cubes: Iterable[Cube]) -> list[Cube]:
    out: list[Cube] = []
    for c in sorted(set(cubes), key=_literal_count):
        if not any((o[0] & ~c[0]) == 0 and (o[1] & ~c[1]) == 0 for o in out):
            out.append(c)
    return out


def _cubes_and(left: list[Cube], right: list[Cube]) -> list[Cube]:
    """The conjunction of two sums of products, contradictory products dropped, absorbed; raises
    _TooLarge past SYMBOLIC_CUBE_LIMIT (the caller then keeps the condition as written)."""
    product = []
    for a in left:
        for b in right:
            pos, neg = a[0] | b[0], a[1] | b[1]
            if not pos & neg:
                product.append((pos, neg))
    out = _absorb(product)
    if len(out) > SYMBOLIC_CUBE_LIMIT:
        raise _TooLarge
    return out


def _dnf(cond: Requirement | None, index: dict[str, int], negate: bool = False) -> list[Cube]:
    if cond is None or cond is True:
        return [] if negate else [(0, 0)]
    if cond is False:
        return [(0, 0)] if negate else []
    if isinstance(cond, ast.FactRef):
        bit = 1 << index[cond.name]
        return [(0, bit)] if negate else [(bit, 0)]
    if isinstance(cond, ast.Not):
        return _dnf(cond.operand, index, not negate)
    conjunctive = isinstance(cond, ast.And) != negate
    parts = [_dnf(o, index, negate) for o in cond.operands]
    if not conjunctive:
        return _absorb(c for p in parts for c in p)
    out: list[Cube] = [(0, 0)]
    for part in parts:
        out = _cubes_and(out, part)
    return out


def _consensus_closure(cubes: list[Cube]) -> list[Cube]:
    """Blake's canonical form: add consensus terms until none is new, absorbing as we go."""
    current = _absorb(cubes)
    changed = True
    while changed:
        changed = False
        for a in list(current):
            for b in list(current):
                clash = (a[0] & b[1]) | (a[1] & b[0])
                if clash.bit_count() != 1:
                    continue
                c = ((a[0] | b[0]) & ~clash, (a[1] | b[1]) & ~clash)
                if any((o[0] & ~c[0]) == 0 and (o[1] & ~c[1]) == 0 for o in current):
                    continue
                current = _absorb(current + [c])
                changed = True
                if len(current) > SYMBOLIC_CUBE_LIMIT:
                    raise _TooLarge
    return current


# ---- from cubes back to a readable condition ----------------------------------------------


def _literal(name: str, positive: bool) -> ast.Condition:
    ref = ast.FactRef(name=name)
    return ref if positive else ast.Not(operand=ref)


def _and(parts: list[ast.Condition]) -> ast.Condition:
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


def _or(parts: list[ast.Condition]) -> ast.Condition:
    flat: list[ast.Condition] = []
    for p in parts:
        flat.extend(p.operands if isinstance(p, ast.Or) else [p])
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
            return _and([_literal(names[i], pos) for i, pos in lits])
        counts: dict[tuple[int, bool], int] = {}
        for cube in group:
            for lit in cube:
                counts[lit] = counts.get(lit, 0) + 1
        lit, count = min(counts.items(), key=lambda kv: (-kv[1], key(kv[0])))
        if count < 2:
            ordered = sorted(group, key=lambda c: [key(x) for x in sorted(c, key=key)])
            return _or([build([c]) for c in ordered])
        inner = [c - {lit} for c in group if lit in c]
        rest = [c for c in group if lit not in c]
        # INVARIANT: primes never contain one another, so no inner term is empty
        shared = _and([_literal(names[lit[0]], lit[1]), build(inner)])
        if not rest:
            return shared
        return _or([shared, build(rest)])

    return build([frozenset(_literals(c, n)) for c in cubes])


# ---- the entry points ----------------------------------------------------------------------


def simplify_table(table: int, names: Sequence[str]) -> Requirement:
    full, _ = _masks(len(names))
    if table == 0:
        return False
    if table == full:
        return True
    primes = prime_implicants(table, len(names))
    return factor(minimum_cover(table, primes, len(names)), names)


def requirement(allows: Sequence[ast.Condition | None], denies: Sequence[ast.Condition | None]) -> Requirement:
    """`(OR allows) and not (OR denies)`, simplified; None stands for an unconditional rule."""
    if not allows or any(c is None for c in denies):
        return False
    names = sorted(facts_of_all([*allows, *denies]))
    if any(c is None for c in allows) and not denies:
        return True
    if len(names) <= EXACT_MAX:
        a = 0
        for c in allows:
            a |= truth_table(c, names)
        full, _ = _masks(len(names))
        d = 0
        for c in denies:
            d |= truth_table(c, names)
        return simplify_table(a & ~d & full, names)
    return _symbolic(allows, denies, names)


def simplify(cond: Requirement | None) -> Requirement:
    """Any condition in its minimal readable form (None, meaning no condition, is True)."""
    if cond is None or isinstance(cond, bool):
        return True if cond is None else cond
    return requirement([cond], [])


def facts_of_all(conds: Iterable[ast.Condition | None]) -> frozenset[str]:
    return frozenset().union(*(facts_of(c) for c in conds))


def _symbolic(allows: Sequence[ast.Condition | None], denies: Sequence[ast.Condition | None],
              names: list[str]) -> Requirement:
    index = {name: i for i, name in enumerate(names)}
    try:
        cubes = [(0, 0)] if any(c is None for c in allows) else _absorb(
            c for cond in allows for c in _dnf(cond, index))
        for cond in denies:
            cubes = _cubes_and(cubes, _dnf(cond, index, negate=True))
        if not cubes:
            return False
        cubes = _consensus_closure(cubes)
    except _TooLarge:  # keep the requirement as written: sound, just not simplified
        parts: list[ast.Condition] = [_or([c for c in allows if c is not None])]
        if denies:
            parts.append(ast.Not(operand=_or([c for c in denies if c is not None])))
        return parts[0] if len(parts) == 1 else ast.And(operands=tuple(parts))
    if cubes == [(0, 0)]:
        return True
    return factor(sorted(cubes, key=lambda c: (_literal_count(c), c)), names)


def to_text(req: Requirement) -> str:
    """The language's condition syntax (`printer.format_condition`); constants as words."""
    from policy_engine.language.printer import format_condition

    if req is True:
        return "true"
    if req is False:
        return "false"
    return format_condition(req)


def parse_condition(text: str) -> ast.Condition:
    """A condition in the language's syntax, read with the language's own parser (wrapped in a
    one-rule policy). Raises PolicyError when it does not parse."""
    from policy_engine.language.diagnostics import PolicyError
    from policy_engine.language.parser import parse_text

    result = parse_text(f'section "condition":\n  allow use of all data if {text}\n', "<condition>")
    if result.policy is None or result.diagnostics:
        raise PolicyError(result.diagnostics)
    (_, rule), = result.policy.rules()
    assert rule.condition is not None
    return rule.condition
