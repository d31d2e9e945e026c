"""logic: predicates, truth tables, and the minimal readable form of a requirement."""

from __future__ import annotations

import itertools
import random

import pytest

from policy_engine.language import ast

from policy_engine.language import logic, tables
from policy_engine.language.diagnostics import PolicyError

P = logic.parse_condition


def req(allows: list[str | None], denies: list[str | None] = ()) -> str:  # type: ignore[assignment]
    return logic.to_text(logic.requirement([None if a is None else P(a) for a in allows],
                                           [None if d is None else P(d) for d in denies]))


def worlds(names: list[str]) -> list[frozenset[str]]:
    return [frozenset(c) for n in range(len(names) + 1) for c in itertools.combinations(names, n)]


@pytest.mark.parametrize("allows, denies, want", [
    (["newsletter_form or notification_settings"], ["not (newsletter_form or notification_settings)"],
     "newsletter_form or notification_settings"),
    (["a"], [], "a"),
    ([None], [], "true"),
    ([None], ["a"], "not a"),
    ([None], [None], "false"),
    ([], [], "false"),
    (["a"], ["a"], "false"),
    (["a", "not a"], [], "true"),
    (["a or a"], [], "a"),
    (["a and b", "a and c"], [], "a and (b or c)"),
    (["a and not b and not c"], [], "a and not (b or c)"),
    (["(a and b) or (not a and c) or (b and c)"], [], "(a and b) or (not a and c)"),  # consensus term dropped
    (["a or b"], ["b and c"], "(a and not b) or (b and not c)"),
    (["a and (b or not b)"], [], "a"),
])
def test_requirement_simplifies(allows, denies, want) -> None:  # type: ignore[no-untyped-def]
    assert req(allows, denies) == want


def test_parse_condition_reads_the_language_and_rejects_garbage() -> None:
    cond = P("a and not (b or c)")
    assert isinstance(cond, ast.And) and logic.to_text(cond) == "a and not (b or c)"
    with pytest.raises(PolicyError):
        P("a and")


def test_compiled_predicate_equals_evaluate() -> None:
    cond = P("(a and not b) or (c and (a or not d))")
    pred = logic.compile_predicate(cond)
    for w in worlds(["a", "b", "c", "d"]):
        assert pred(w) == logic.evaluate(cond, w)


def test_evaluate_constants() -> None:
    assert logic.evaluate(None, ()) and logic.evaluate(True, ()) and not logic.evaluate(False, ())


def _brute_minimum_terms(table: int, n: int) -> int:
    """The fewest product terms of any sum-of-products equal to the function (exhaustive)."""
    full, _ = tables.masks(n)
    if table in (0, full):
        return 0 if table == 0 else 1
    cubes = []
    for lits in itertools.product((None, True, False), repeat=n):
        pos = sum(1 << i for i, v in enumerate(lits) if v is True)
        neg = sum(1 << i for i, v in enumerate(lits) if v is False)
        t = tables.cube_table((pos, neg), n)
        if t and t & ~table & full == 0:
            cubes.append(t)
    for k in range(1, len(cubes) + 1):
        for combo in itertools.combinations(cubes, k):
            cover = 0
            for t in combo:
                cover |= t
            if cover == table:
                return k
    raise AssertionError


def _terms(cond: logic.Requirement, names: list[str]) -> int:
    """Product terms of the simplified form, counted as a sum of products (undoing the factoring)."""
    if cond is True:
        return 1
    table = logic.truth_table(cond, names)
    text_cubes = _expand(cond)
    assert all(tables.cube_table(c, len(names)) & ~table == 0 for c in _to_masks(text_cubes, names))
    return len(text_cubes)


def _expand(cond: ast.Condition) -> list[frozenset[tuple[str, bool]]]:
    if isinstance(cond, ast.FactRef):
        return [frozenset({(cond.name, True)})]
    if isinstance(cond, ast.Not):
        inner = cond.operand
        if isinstance(inner, ast.FactRef):
            return [frozenset({(inner.name, False)})]
        assert isinstance(inner, ast.Or) and all(isinstance(o, ast.FactRef) for o in inner.operands)
        return [frozenset((o.name, False) for o in inner.operands)]  # type: ignore[union-attr]
    parts = [_expand(o) for o in cond.operands]
    if isinstance(cond, ast.Or):
        return [c for p in parts for c in p]
    out = [frozenset()]
    for p in parts:
        out = [a | b for a in out for b in p]
    return out


def _to_masks(cubes, names):  # type: ignore[no-untyped-def]
    index = {n: i for i, n in enumerate(names)}
    return [(sum(1 << index[n] for n, v in c if v), sum(1 << index[n] for n, v in c if not v)) for c in cubes]


def test_every_function_of_three_facts_is_minimal_and_exact() -> None:
    names = ["a", "b", "c"]
    for table in range(256):
        got = logic.simplify_table(table, names)
        if table == 0:
            assert got is False
            continue
        if table == 255:
            assert got is True
            continue
        assert logic.truth_table(got, names) == table, (table, logic.to_text(got))
        assert _terms(got, names) == _brute_minimum_terms(table, 3), (table, logic.to_text(got))


def test_random_functions_of_five_facts_round_trip_through_text() -> None:
    names = [f"f{i}" for i in range(5)]
    rng = random.Random(7)
    for _ in range(200):
        table = rng.getrandbits(32)
        got = logic.simplify_table(table, names)
        if isinstance(got, bool):
            continue
        again = P(logic.to_text(got))
        assert logic.truth_table(again, names) == table


def test_many_facts_take_the_symbolic_path_and_stay_exact() -> None:
    names = [f"f{i:02d}" for i in range(logic.EXACT_MAX + 3)]
    allow = P(" or ".join(f"({a} and not {b})" for a, b in zip(names, names[1:])))
    deny = P(f"{names[0]} and {names[5]}")
    got = logic.requirement([allow], [deny])
    assert not isinstance(got, bool)
    rng = random.Random(3)
    for _ in range(300):
        w = frozenset(n for n in names if rng.random() < 0.5)
        assert logic.evaluate(got, w) == (logic.evaluate(allow, w) and not logic.evaluate(deny, w))
    assert logic.requirement([P(" or ".join(names)), P(" and ".join(f"not {n}" for n in names))], []) is True


def test_facts_of() -> None:
    assert logic.facts_of(P("a and not (b or a)")) == {"a", "b"}
    assert logic.facts_of(None) == frozenset()


# ---- many facts: exact decisions, exact and parseable requirements --------------------------

PAIRS = " or ".join(f"(a{i} and b{i})" for i in range(13))  # 26 facts; its negation has 8,192 terms


def _worlds_sample(names: list[str], n: int = 400, seed: int = 5) -> list[frozenset[str]]:
    rng = random.Random(seed)
    return [frozenset(x for x in names if rng.random() < 0.5) for _ in range(n)]


def test_an_allow_inside_a_large_deny_is_deny_not_conditional() -> None:
    assert logic.requirement([P("a0 and b0")], [P(PAIRS)]) is False


@pytest.mark.parametrize("allows", [[None], [None, "c"]])
def test_a_large_deny_keeps_the_unconditional_allow_and_parses(allows: list[str | None]) -> None:
    got = logic.requirement([None if a is None else P(a) for a in allows], [P(PAIRS)])
    assert not isinstance(got, bool)
    text = logic.to_text(got)
    assert "()" not in text
    again = P(text)
    assert logic.equivalent(again, ast.Not(operand=P(PAIRS)))
    names = sorted(logic.facts_of(P(PAIRS)) | {"c"})
    for w in _worlds_sample(names):
        assert logic.evaluate(again, w) == (not logic.evaluate(P(PAIRS), w))


def test_many_fact_requirement_is_an_irredundant_factored_cover_when_small() -> None:
    names = [f"f{i:02d}" for i in range(20)]
    allow = P(" or ".join(f"({a} and {b})" for a, b in zip(names[::2], names[1::2])))
    deny = P(f"{names[0]} and {names[3]}")
    got = logic.requirement([allow], [deny])
    assert not isinstance(got, bool) and logic.equivalent(got, ast.And(operands=(allow, ast.Not(operand=deny))))
    assert len(logic.to_text(got)) < 400  # readable, not the rules as written


def test_both_bdd_backends_give_the_same_cover() -> None:
    from dd import autoref

    from policy_engine.language import bdd

    names = [f"f{i:02d}" for i in range(16)]
    cond = P(" or ".join(f"({a} and not {b})" for a, b in zip(names, names[3:])))
    spaces = [bdd.Space(names), bdd.Space(names, backend=autoref)]
    covers = [s.isop(s.of(cond)) for s in spaces]
    assert covers[0] == covers[1]
    assert type(spaces[1].bdd).__module__ == "dd.autoref"


def test_isop_is_exact_and_irredundant_on_random_functions() -> None:
    from policy_engine.language import bdd

    rng = random.Random(11)
    names = [f"x{i}" for i in range(14)]
    for _ in range(30):
        terms = [" and ".join(("" if rng.random() < .5 else "not ") + n for n in rng.sample(names, rng.randint(1, 4)))
                 for _ in range(rng.randint(1, 8))]
        cond = P(" or ".join(f"({t})" for t in terms))
        space = bdd.Space(names)
        f = space.of(cond)
        cubes = space.isop(f)
        cover = space.false
        parts = []
        for pos, neg in cubes:
            cube = space.true
            for i, n in enumerate(names):
                if pos >> i & 1:
                    cube &= space.bdd.var(n)
                if neg >> i & 1:
                    cube &= ~space.bdd.var(n)
            parts.append(cube)
            cover |= cube
        assert cover == f
        for j in range(len(parts)):  # irredundant: no term is covered by the others
            others = space.false
            for k, p in enumerate(parts):
                if k != j:
                    others |= p
            assert parts[j] & ~others != space.false


def test_deeply_nested_conditions_compile_and_evaluate_without_eval() -> None:
    deep = P("not " * 255 + "a")
    andor = "a"
    for i in range(120):
        andor = f"a and ({andor})" if i % 2 else f"a or ({andor})"
    nested = P(andor)
    for cond in (deep, nested):
        pred = logic.compile_predicate(cond)
        for w in (frozenset(), frozenset({"a"})):
            assert pred(w) == logic.evaluate(cond, w)
    assert logic.to_text(logic.simplify(deep)) == "not a"
    assert logic.depth(deep) == 255


def test_satisfiable_past_the_budget_is_too_complex() -> None:
    names = [f"v{i:02d}" for i in range(40)]
    # pairs far apart in the (name) order: the BDD doubles with every pair
    far = P(" or ".join(f"({a} and {b})" for a, b in zip(names[:20], names[20:])))
    with pytest.raises(logic.TooComplex):
        logic.satisfiable(far)
    near = P(" or ".join(f"({a} and {b})" for a, b in zip(names[::2], names[1::2])))
    with pytest.raises(logic.TooComplex):
        logic.satisfiable(near, budget=10)
    assert logic.satisfiable(near) is True


def test_equivalent_and_implies_at_any_size() -> None:
    names = [f"v{i}" for i in range(30)]
    big = P(" or ".join(names))
    assert logic.equivalent(big, P("not (" + " and ".join(f"not {n}" for n in names) + ")"))
    assert logic.implies(P(names[0]), big) and not logic.implies(big, P(names[0]))
    assert logic.implies(False, big) and logic.implies(big, None)
