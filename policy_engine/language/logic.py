"""Conditions over facts as Boolean functions: the one place that evaluates, compares,
decides and simplifies them. In: ast.Condition (None: no condition). Out: predicates, exact
answers (satisfiable, equivalent, implies), and the readable form of a requirement.

The engine's partial evaluation builds `A and not D` (A: the conditions of the matching
allows, D: those of the matching denies). Whether that is always true, never true or neither
is decided exactly at any size: by truth tables up to EXACT_MAX facts (`tables`), by BDDs
above (`bdd`). Its text is the minimal readable form where that is cheap:
- up to EXACT_MAX facts, a minimum cover by prime implicants (fewest terms, then literals);
- above, an irredundant sum of products of the BDD (Minato-Morreale);
both factored (`cubes.factor`). When even the irredundant form is too large to be readable,
the requirement is written as the conditions were (`(A1 or A2) and not (D1 or D2)`), and when
that would nest deeper than the language allows, as the flat sum of products. Every form is
exact and parses back with `parse_condition`: no fallback changes an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from policy_engine.language import ast, bdd
from policy_engine.language.cubes import Cube, and_, factor, literal_count, or_
from policy_engine.language.tables import EXACT_MAX, masks, minimum_cover, prime_implicants, truth_table

Requirement = bool | ast.Condition
TooComplex = bdd.TooComplex
NODE_BUDGET = bdd.NODE_BUDGET
FACTOR_LIMIT = 256  # irredundant terms beyond which a many-fact requirement is written as the rules were

__all__ = [
    "EXACT_MAX", "NODE_BUDGET", "Algebra", "Requirement", "TooComplex", "all_hold", "compile_predicate", "depth",
    "differences", "equivalent", "evaluate", "facts_of", "facts_of_all", "implies", "implies_any",
    "parse_condition", "requirement", "under",
    "satisfiable", "simplify", "simplify_table", "to_text", "truth_table",
]


def max_depth() -> int:
    """The language's one nesting limit (the parser enforces it on every condition it reads)."""
    from policy_engine.language.parser import MAX_CONDITION_DEPTH

    return MAX_CONDITION_DEPTH


# ---- facts, depth, evaluation, predicates ------------------------------------------------


def facts_of(cond: Requirement | None) -> frozenset[str]:
    if cond is None or isinstance(cond, bool):
        return frozenset()
    out: set[str] = set()
    stack: list[ast.Condition] = [cond]
    while stack:  # iterative: a condition may be nested as deep as the language allows
        c = stack.pop()
        if isinstance(c, ast.FactRef):
            out.add(c.name)
        elif isinstance(c, ast.Not):
            stack.append(c.operand)
        else:
            stack.extend(c.operands)
    return frozenset(out)


def facts_of_all(conds: Iterable[Requirement | None]) -> frozenset[str]:
    return frozenset().union(*(facts_of(c) for c in conds))


def depth(cond: Requirement | None) -> int:
    """Nesting as the parser counts it: one level per `not` and per and/or below another."""
    if cond is None or isinstance(cond, bool):
        return 0
    deepest = 0
    stack: list[tuple[ast.Condition, int]] = [(cond, 0)]
    while stack:
        c, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(c, ast.Not):
            stack.append((c.operand, d + 1))
        elif not isinstance(c, ast.FactRef):
            stack.extend((o, d + 1) for o in c.operands)
    return deepest


def _holds(cond: ast.Condition, held: frozenset[str] | set[str]) -> bool:
    if isinstance(cond, ast.FactRef):
        return cond.name in held
    if isinstance(cond, ast.Not):
        return not _holds(cond.operand, held)
    if isinstance(cond, ast.And):
        for o in cond.operands:  # a loop, not all(): one stack frame per level of nesting
            if not _holds(o, held):
                return False
        return True
    for o in cond.operands:
        if _holds(o, held):
            return True
    return False


def evaluate(cond: Requirement | None, true_facts: Iterable[str]) -> bool:
    """None and True are always true, False never; otherwise the condition under a closed world."""
    if cond is None or cond is True:
        return True
    if cond is False:
        return False
    held = true_facts if isinstance(true_facts, (set, frozenset)) else frozenset(true_facts)
    return _holds(cond, held)


Predicate = Callable[[frozenset[str]], bool]


def compile_predicate(cond: ast.Condition) -> Predicate:
    """A function of the set of true facts, built from closures (no source text is evaluated):
    a flat and/or of facts becomes one set operation."""
    if isinstance(cond, ast.FactRef):
        name = cond.name
        return lambda held: name in held
    if isinstance(cond, ast.Not):
        inner = compile_predicate(cond.operand)
        return lambda held: not inner(held)
    conjunctive = isinstance(cond, ast.And)
    if all(isinstance(o, ast.FactRef) for o in cond.operands):
        names = frozenset(o.name for o in cond.operands)  # type: ignore[union-attr]
        if conjunctive:
            return lambda held: names <= held
        return lambda held: not names.isdisjoint(held)
    parts = tuple(compile_predicate(o) for o in cond.operands)
    if conjunctive:
        def every(held: frozenset[str]) -> bool:
            for p in parts:
                if not p(held):
                    return False
            return True
        return every

    def some(held: frozenset[str]) -> bool:
        for p in parts:
            if p(held):
                return True
        return False
    return some


# ---- Boolean functions as values ------------------------------------------------------------


class Algebra:
    """Conditions over a fixed set of facts as comparable values: truth tables (ints) up to
    EXACT_MAX facts, BDDs above. `&` and `|` work on both; `neg` negates; `==` is equivalence.
    With a budget, a BDD that outgrows it raises TooComplex. Not shared between threads."""

    def __init__(self, facts: Iterable[str], budget: int | None = None, table_max: int = EXACT_MAX):
        self.names = sorted(set(facts))
        self.space: bdd.Space | None = None
        if len(self.names) <= table_max:
            self.full = masks(len(self.names))[0]
            self.true: Any = self.full
            self.false: Any = 0
        else:
            self.space = bdd.Space(self.names, budget)
            self.true, self.false = self.space.true, self.space.false

    def of(self, cond: Requirement | None) -> Any:
        if self.space is None:
            return truth_table(cond, self.names)
        return self.space.of(cond)

    def any_of(self, conds: Iterable[Requirement | None]) -> Any:
        if self.space is None:
            out = 0
            for c in conds:
                out |= truth_table(c, self.names)
            return out
        return self.space.any_of(conds)

    def neg(self, f: Any) -> Any:
        return self.full ^ f if self.space is None else ~f

    def minus(self, f: Any, g: Any) -> Any:
        """f and not g."""
        return f & self.neg(g)


def satisfiable(cond: Requirement | None, budget: int | None = NODE_BUDGET) -> bool:
    """Exact at any size; raises TooComplex when the condition's BDD outgrows the budget."""
    alg = Algebra(facts_of(cond), budget)
    return alg.of(cond) != alg.false


def first_too_complex(rules: Sequence[tuple[bool, ast.Condition]], budget: int = NODE_BUDGET) -> int | None:
    """Rules as (is_allow, condition), in order: the index of the first whose condition, joined
    to those before it (`A and not D` of all of them), outgrows the BDD budget; None if none does.
    What the checker asks so that no question's requirement is past bounded work."""
    alg = Algebra(facts_of_all(c for _, c in rules), budget)
    if alg.space is None:
        return None
    a = d = alg.false
    for i, (is_allow, cond) in enumerate(rules):
        try:
            f = alg.of(cond)
            if is_allow:
                a = a | f
            else:
                d = d | f
            alg.space.guard(alg.minus(a, d))
        except TooComplex:
            return i
    return None


def equivalent(a: Requirement | None, b: Requirement | None) -> bool:
    alg = Algebra(facts_of_all([a, b]))
    return alg.of(a) == alg.of(b)


def implies(a: Requirement | None, b: Requirement | None) -> bool:
    """Every assignment that makes a true makes b true."""
    return implies_any(a, [b])


def implies_any(a: Requirement | None, conds: Sequence[Requirement | None]) -> bool:
    """Every assignment that makes a true makes one of conds true (none: a never holds)."""
    alg = Algebra(facts_of_all([a, *conds]))
    return alg.minus(alg.of(a), alg.any_of(conds)) == alg.false


def all_hold(conds: Sequence[Requirement | None]) -> bool:
    """Some assignment makes every one of conds true."""
    alg = Algebra(facts_of_all(conds))
    out = alg.true
    for c in conds:
        out = out & alg.of(c)
    return out != alg.false


def differences(before: Requirement | None, after: Requirement | None) -> tuple[bool, bool] | None:
    """(some assignment satisfies after only, some satisfies before only), or None when the
    two are the same function."""
    alg = Algebra(facts_of_all([before, after]))
    b, a = alg.of(before), alg.of(after)
    if a == b:
        return None
    return alg.minus(a, b) != alg.false, alg.minus(b, a) != alg.false


# ---- the requirement and its readable form -----------------------------------------------


def _sorted(cubes: Iterable[Cube]) -> list[Cube]:
    return sorted(cubes, key=lambda c: (literal_count(c), c))


def simplify_table(table: int, names: Sequence[str]) -> Requirement:
    full, _ = masks(len(names))
    if table == 0:
        return False
    if table == full:
        return True
    primes = prime_implicants(table, len(names))
    return factor(minimum_cover(table, primes, len(names)), names)


def requirement(allows: Sequence[ast.Condition | None], denies: Sequence[ast.Condition | None],
                care: ast.Condition | None = None) -> Requirement:
    """`(OR allows) and not (OR denies)`, simplified; None stands for an unconditional rule.

    `care`: the assignments that can happen (facts that imply facts: `implication.care`). The
    requirement is then decided and simplified over those only: true if it holds on every one,
    false if on none, else the smallest readable condition that agrees with it on every one."""
    if not allows or any(c is None for c in denies):
        return False
    if any(c is None for c in allows) and not denies:
        return True
    if care is not None:
        return _requirement_on(allows, denies, care)
    alg = Algebra(facts_of_all([*allows, *denies]))
    f = alg.minus(alg.any_of(allows), alg.any_of(denies))
    if alg.space is None:
        return simplify_table(f, alg.names)
    if f == alg.false:
        return False
    if f == alg.true:
        return True
    return _readable(alg.space, f, allows, denies)


def under(req: Requirement | None, care: ast.Condition | None) -> Requirement | None:
    """`req` restricted to the assignments `care` admits (None: every assignment)."""
    if care is None or req is False:
        return req
    if req is True or req is None:
        return care
    return ast.And(operands=(req, care))


def _requirement_on(allows: Sequence[ast.Condition | None], denies: Sequence[ast.Condition | None],
                    care: ast.Condition) -> Requirement:
    space = bdd.Space(sorted(facts_of_all([*allows, *denies, care])))
    f = space.guard(space.any_of(allows) & ~space.any_of(denies))
    c = space.of(care)
    lower, upper = f & c, f | ~c
    if lower == space.false:
        return False
    if upper == space.true:
        return True
    limit = max_depth()
    try:
        cond = factor(_sorted(space.isop_between(lower, upper, FACTOR_LIMIT)), space.names)
        if depth(cond) <= limit:
            return cond
    except bdd.TooManyCubes:
        pass
    return _readable(space, f, allows, denies)  # exact everywhere, so on the care set too


def _readable(space: bdd.Space, f: Any, allows: Sequence[ast.Condition | None],
              denies: Sequence[ast.Condition | None]) -> ast.Condition:
    limit = max_depth()
    try:
        cond = factor(_sorted(space.isop(f, FACTOR_LIMIT)), space.names)
        if depth(cond) <= limit:
            return cond
    except bdd.TooManyCubes:
        pass
    written = _as_written(allows, denies)
    if depth(written) <= limit:
        return written
    names = space.names
    return or_([and_([ast.FactRef(name=names[i]) if pos else ast.Not(operand=ast.FactRef(name=names[i]))
                      for i, pos in _cube_literals(cube, len(names))]) for cube in _sorted(space.isop(f))])


def _cube_literals(cube: Cube, n: int) -> list[tuple[int, bool]]:
    return [(i, True) for i in range(n) if cube[0] >> i & 1] + [(i, False) for i in range(n) if cube[1] >> i & 1]


def _as_written(allows: Sequence[ast.Condition | None], denies: Sequence[ast.Condition | None]) -> ast.Condition:
    """`(A1 or A2) and not (D1 or D2)` from the rules' own conditions (an unconditional allow
    drops the first part). Called only with some deny or conditional allow, so never empty."""
    parts: list[ast.Condition] = []
    if not any(c is None for c in allows):  # each condition once: two rules may share one
        parts.append(or_(list(dict.fromkeys(c for c in allows if c is not None))))
    if denies:
        parts.append(ast.Not(operand=or_(list(dict.fromkeys(c for c in denies if c is not None)))))
    flat: list[ast.Condition] = []
    for p in parts:
        flat.extend(p.operands if isinstance(p, ast.And) else [p])
    return flat[0] if len(flat) == 1 else ast.And(operands=tuple(flat))


def simplify(cond: Requirement | None) -> Requirement:
    """Any condition in its minimal readable form (None, meaning no condition, is True)."""
    if cond is None or isinstance(cond, bool):
        return True if cond is None else cond
    return requirement([cond], [])


# ---- text ------------------------------------------------------------------------------


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
    one-rule policy), so its nesting limit is the parser's. Raises PolicyError when it does not
    parse."""
    from policy_engine.language.diagnostics import PolicyError
    from policy_engine.language.parser import parse_text

    result = parse_text(f'section "condition":\n  allow use of all data if {text}\n', "<condition>")
    if result.policy is None or result.diagnostics:
        raise PolicyError(result.diagnostics)
    (_, rule), = result.policy.rules()
    assert rule.condition is not None
    return rule.condition
