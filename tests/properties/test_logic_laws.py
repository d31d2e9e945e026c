"""logic against a plain reference: every assignment for few facts, sampled assignments (and
constructed constants) for up to 40 facts, with deep and wide conditions.

The reference is the definition, `any(allows) and not any(denies)` evaluated on assignments;
what is checked is the decision (always / never / sometimes), that `requires` parses with the
language's own parser, and that it is the same function.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.language import ast, logic

from properties.strategies import conditions_over, flat

SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


def deep(cond: ast.Condition, levels: int, facts: list[str], rnd: random.Random) -> ast.Condition:
    """Wrap a condition in `levels` alternating layers (not / and / or), as deep as asked."""
    for _ in range(levels):
        pick = rnd.randrange(3)
        other = ast.FactRef(name=rnd.choice(facts))
        if pick == 0:
            cond = ast.Not(operand=cond)
        elif pick == 1 and not isinstance(cond, ast.And):
            cond = ast.And(operands=(other, cond))
        elif not isinstance(cond, ast.Or):
            cond = ast.Or(operands=(cond, other))
        else:
            cond = ast.Not(operand=cond)
    return cond


def reference(allows: list[ast.Condition | None], denies: list[ast.Condition | None], world: frozenset[str]) -> bool:
    return any(logic.evaluate(a, world) for a in allows) and not any(logic.evaluate(d, world) for d in denies)


def rule_lists(facts: list[str], leaves: int) -> st.SearchStrategy[list[ast.Condition | None]]:
    return st.lists(st.one_of(st.none(), conditions_over(facts, width=4, leaves=leaves)) if leaves else st.none(), min_size=0, max_size=3)


def _check_text(req: logic.Requirement) -> ast.Condition | None:
    if isinstance(req, bool):
        return None
    again = logic.parse_condition(logic.to_text(req))
    assert logic.equivalent(again, req)
    return again


SMALL = [f"s{i}" for i in range(8)]
LARGE = [f"f{i:02d}" for i in range(40)]


@SLOW
@given(allows=rule_lists(SMALL, 8), denies=rule_lists(SMALL, 8))
def test_few_facts_equal_the_reference_on_every_assignment(allows, denies) -> None:  # type: ignore[no-untyped-def]
    req = logic.requirement(allows, denies)
    again = _check_text(req)
    names = sorted(logic.facts_of_all([*allows, *denies]))
    values = []
    for bits in itertools.product((False, True), repeat=len(names)):
        world = frozenset(n for n, b in zip(names, bits) if b)
        want = reference(allows, denies, world)
        values.append(want)
        if again is not None:
            assert logic.evaluate(again, world) == want
    if req is True:
        assert all(values)
    elif req is False:
        assert not any(values)
    else:
        assert any(values) and not all(values)


@SLOW
@given(allows=st.lists(conditions_over(LARGE, width=6, leaves=24), min_size=1, max_size=3),
       denies=st.lists(conditions_over(LARGE, width=6, leaves=24), max_size=3),
       levels=st.integers(0, 60), seed=st.integers(0, 2**32))
def test_many_facts_deep_and_wide_equal_the_reference_on_samples(allows, denies, levels, seed) -> None:  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    allows = [deep(allows[0], levels, LARGE, rnd), *allows[1:]]
    req = logic.requirement(allows, denies)
    again = _check_text(req)
    names = sorted(logic.facts_of_all([*allows, *denies]))
    for _ in range(200):
        world = frozenset(n for n in names if rnd.random() < 0.5)
        want = reference(allows, denies, world)
        got = req if isinstance(req, bool) else logic.evaluate(again, world)
        assert got == want, (logic.to_text(req), sorted(world))


@SLOW
@given(base=conditions_over(LARGE, width=6, leaves=30), extra=conditions_over(LARGE, width=4, leaves=12), levels=st.integers(0, 40),
       seed=st.integers(0, 2**32))
def test_many_facts_constants_are_decided_exactly(base, extra, levels, seed) -> None:  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    allow = deep(base, levels, LARGE, rnd)
    # a deny that covers the allow: never allowed, whatever its size
    assert logic.requirement([allow], [flat(ast.Or, [allow, extra])]) is False
    # an allow and its negation: always allowed
    assert logic.requirement([allow, ast.Not(operand=allow)], []) is True
    # an unconditional allow is never dropped: the answer is exactly "not the deny"
    req = logic.requirement([None, extra], [base])
    if not isinstance(req, bool):
        assert logic.equivalent(_check_text(req), ast.Not(operand=base))
    else:
        assert req == (not logic.satisfiable(base))
