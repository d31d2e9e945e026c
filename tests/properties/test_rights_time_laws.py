"""The laws of time limits in rights' conditions (`right delete if f0 less than 30 days ago`), by
property, against the plain reference of test_time_laws: a limit holds at an instant when its fact
began less than its length before it; a fact listed without a time may have begun at any time, so
a condition grants the right only if it holds whatever that time is (fail closed).

- closed world: the rights answer agrees with the reference at the instant asked about, and the
  statements it cites are exactly those that grant;
- `until` / `from`: the answer holds from `at` up to just before that instant and changes at it;
  with neither, it does not change at any instant where a limit or a fact's start could change it;
- facts omitted: `requires` agrees with the closed-world answer on every fact set and every age.
"""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

import policy_engine
from policy_engine.language import ast, logic, timelimits

from properties.strategies import conditions_over
from properties.test_engine_laws import SLOW
from properties.test_time_laws import AGES, AT, DAY, DURATIONS, FACTS, SECOND, policy_text, possible_starts, rfc

ATOMS = [timelimits.atom_name(f, d) for f in FACTS for d in DURATIONS[:3]]


def holds_at(cond: ast.Condition | None, held: frozenset[str], began: dict[str, dt.datetime], at: dt.datetime) -> bool:
    true = set(held)
    for name in logic.facts_of(cond) if cond is not None else ():
        read = timelimits.read_atom(name)
        if read is not None and read[0] in held and at - began[read[0]] < read[1].days * DAY:
            true.add(name)
    return logic.evaluate(cond, true)


def granting(conds: list[ast.Condition | None], q: dict, at: dt.datetime) -> list[int]:
    """The statements that grant the right at `at` (by index), from the semantics alone."""
    held, worlds = possible_starts(q, at)
    return [i for i, c in enumerate(conds) if all(holds_at(c, held, w, at) for w in worlds)]


def _satisfiable(cond: ast.Condition) -> bool:
    care = timelimits.care(logic.facts_of(cond))
    return logic.satisfiable(cond if care is None else ast.And(operands=(cond, care)))


@st.composite
def right_conditions(draw):  # type: ignore[no-untyped-def]
    cond = draw(st.one_of(st.none(), conditions_over(FACTS + ATOMS, width=2, leaves=3)))
    return cond if cond is None or _satisfiable(cond) else None  # the checker rejects a condition never met


@st.composite
def rights_questions(draw, all_known: bool = False):  # type: ignore[no-untyped-def]
    ages = st.sampled_from(AGES + [-2 * DAY])  # a negative age: the fact begins after `at`
    listed = draw(st.lists(st.sampled_from(FACTS), unique=True))
    if all_known or draw(st.booleans()):
        facts: object = {f: rfc(AT - draw(ages)) if all_known or draw(st.booleans()) else True for f in listed}
    else:
        facts = listed
    return {"right": "delete", "facts": facts, "at": rfc(AT)}


def rights_policy(conds: list[ast.Condition | None]) -> policy_engine.Policy:
    items = [ast.Right(right=ast.TermRef(id="delete"), channels=(f"channel {i}",), condition=c)
             for i, c in enumerate(conds)]
    return policy_engine.loads(policy_text(items), "rights.policy")  # type: ignore[arg-type]


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@SLOW
@given(st.lists(right_conditions(), min_size=1, max_size=3), st.lists(rights_questions(), min_size=1, max_size=4))
def test_rights_agree_with_the_reference_at_the_instant(conds, qs) -> None:  # type: ignore[no-untyped-def]
    policy = rights_policy(conds)
    for q in qs:
        got = policy.rights(q)
        want = granting(conds, q, AT)
        assert got.decision == ("allow" if want else "deny"), q
        # each statement has its own channel: the cited ones are exactly those that grant
        assert sorted(r.rule.split('"')[1] for r in got.reasons) == sorted(f"channel {i}" for i in want), q
        assert set(got.channels) == {f"channel {i}" for i in want}, q


@SLOW
@given(st.lists(right_conditions(), min_size=1, max_size=3),
       st.lists(rights_questions(all_known=True), min_size=1, max_size=4))
def test_until_and_from_are_the_first_instant_the_right_changes(conds, qs) -> None:  # type: ignore[no-untyped-def]
    policy = rights_policy(conds)
    lengths = {d.days * DAY for d in DURATIONS[:3]}
    for q in qs:
        got = policy.rights(q)
        granted = got.decision == "allow"
        mark = got.until if granted else got.from_
        assert (got.from_ if granted else got.until) is None, q
        changes = None if mark is None else _instant(mark)
        starts = [_instant(t) for t in q["facts"].values()]
        points = sorted(p for p in {t + d for t in starts for d in lengths} | set(starts) if p > AT)
        for point in points:
            for instant in (point - SECOND, point):
                if instant > AT and (changes is None or instant < changes):
                    assert bool(granting(conds, q, instant)) == granted, (q, instant, mark)
        if changes is not None:
            assert changes > AT
            assert bool(granting(conds, q, changes)) != granted, (q, mark)
            assert policy.rights({**q, "at": rfc(changes)}).decision == ("deny" if granted else "allow"), (q, mark)


@SLOW
@given(st.lists(right_conditions(), min_size=1, max_size=3))
def test_rights_requires_is_exact_over_every_fact_set_and_every_age(conds) -> None:  # type: ignore[no-untyped-def]
    policy = rights_policy(conds)
    partial = policy.rights({"right": "delete", "at": rfc(AT)})
    for n in range(len(FACTS) + 1):
        for world in itertools.combinations(FACTS, n):
            for ages in itertools.product(AGES, repeat=len(world)):
                q = {"right": "delete", "facts": {f: rfc(AT - a) for f, a in zip(world, ages)}, "at": rfc(AT)}
                closed = policy.rights(q)
                assert closed.decision == ("allow" if granting(conds, q, AT) else "deny"), q
                if partial.decision == "conditional":
                    began = {f: AT - a for f, a in zip(world, ages)}
                    cond = logic.parse_condition(partial.requires)
                    assert holds_at(cond, frozenset(world), began, AT) == (closed.decision == "allow"), \
                        (world, ages, partial.requires)
                else:
                    assert closed.decision == partial.decision, (world, ages)
