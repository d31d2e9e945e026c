"""The laws of docs/semantics.md (facts that imply facts) and 5.2 (sub-actions), by property, against the
plain reference interpreter of test_engine_laws grown by exactly what those sections say:

- a listed fact makes its dotted ancestors and the facts it declares it implies hold, transitively;
- a rule on an action covers its sub-actions, a rule on a sub-action does not cover its parent;
- with facts omitted, the answer ranges over the assignments closed under implication only, and
  `requires` agrees with the closed-world answer on every one of them.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

import policy_engine
from policy_engine.language import ast
from policy_engine.language.printer import format_policy

from properties.test_engine_laws import SLOW, assert_agrees_closed_and_partial, assert_requires_exact, Reference, _holds, _refs, vocabularies
from properties.strategies import conditions_over

SUB_ACTIONS = ("share.sell", "share.sell.bulk", "share.targeted", "use.profiling")


class ClosedReference(Reference):
    """The reference with implication and sub-actions, written from docs/semantics.md alone."""

    def __init__(self, rules: list[ast.Rule], facts: list[str], implies: dict[str, list[str]]):
        self.rules = rules
        self.facts = facts
        self.implies = implies

    def close(self, listed: frozenset[str]) -> frozenset[str]:
        out, todo = set(), list(listed)
        while todo:
            f = todo.pop()
            if f in out:
                continue
            out.add(f)
            if "." in f:
                todo.append(f.rsplit(".", 1)[0])
            todo.extend(self.implies.get(f, ()))
        return frozenset(out)

    def matches(self, rule: ast.Rule, q: dict) -> bool:
        action = q["action"]
        if not (rule.action == action or action.startswith(rule.action + ".")):
            return False
        return super().matches(rule.model_copy(update={"action": action}), q)

    def closed(self, q: dict, facts: frozenset[str]) -> tuple[str, list[ast.Rule]]:
        return super().closed(q, self.close(facts))

    def worlds(self) -> list[frozenset[str]]:
        """Only the assignments some set of listed facts gives: those closed under implication."""
        every = [frozenset(c) for n in range(len(self.facts) + 1) for c in itertools.combinations(self.facts, n)]
        return [w for w in every if self.close(w) == w]


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    vocab = draw(vocabularies())
    # facts with a hierarchy and declared implications that only point forward in this order, where
    # a child comes before its parent (which it implies): so no cycle
    facts = []
    for i in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            facts.append(f"f{i}.c")
        facts.append(f"f{i}")
    implies: dict[str, list[str]] = {}
    for i, f in enumerate(facts):
        later = [g for g in facts[i + 1:] if not g.startswith(f + ".") and not f.startswith(g + ".")]
        if later and draw(st.booleans()):
            implies[f] = draw(st.lists(st.sampled_from(later), min_size=1, max_size=2, unique=True))
    vocab["fact"] = facts
    actions = list(ast.ACTIONS) + list(SUB_ACTIONS)
    rule_list = []
    for _ in range(draw(st.integers(0, 7))):
        cond = draw(st.one_of(st.none(), conditions_over(facts)))
        if cond is not None and not any(_holds(cond, w) for w in ClosedReference([], facts, implies).worlds()):
            cond = None  # the checker rejects a condition no closed assignment satisfies
        rule_list.append(ast.Rule(
            effect=draw(st.sampled_from(["allow", "allow", "deny"])), action=draw(st.sampled_from(actions)),
            data=None if draw(st.booleans()) else _refs([draw(st.sampled_from(vocab["data"]))]),
            recipients=_refs(draw(st.lists(st.sampled_from(vocab["recipient"]), max_size=1))),
            purposes=_refs(draw(st.lists(st.sampled_from(vocab["purpose"]), max_size=1))),
            sources=_refs(draw(st.lists(st.sampled_from(vocab["source"]), max_size=1))),
            condition=cond))
    queries = []
    for _ in range(draw(st.integers(1, 5))):
        action = draw(st.sampled_from(actions))
        q: dict = {"action": action, "data": draw(st.sampled_from(vocab["data"]))}
        needed = ast.required_dimension(action)
        for dim in ("source", "purpose", "recipient"):
            if dim == needed or draw(st.booleans()):
                q[dim] = draw(st.sampled_from(vocab[dim]))
        if draw(st.booleans()):
            q["facts"] = draw(st.lists(st.sampled_from(facts), unique=True))
        queries.append(q)
    return vocab, implies, rule_list, queries


def policy_text(vocab: dict[str, list[str]], implies: dict[str, list[str]], rule_list: list[ast.Rule]) -> str:
    terms = [ast.TermDecl(kind=k, id=i, label=f"{k} {i}", implies=_refs(implies.get(i, [])) if k == "fact" else ())
             for k, ids in vocab.items() for i in ids]
    terms += [ast.TermDecl(kind="action", id=a, label=a) for a in SUB_ACTIONS]
    return format_policy(ast.PolicyFile(meta=ast.Metadata(name="Generated"), terms=tuple(terms),
                                        sections=(ast.Section(title="S0", items=tuple(rule_list)),)))


@SLOW
@given(scenarios())
def test_engine_agrees_with_the_reference_with_implication_and_sub_actions(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, implies, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, implies, rule_list), "gen.policy")
    ref = ClosedReference(rule_list, vocab["fact"], implies)
    assert_agrees_closed_and_partial(policy, ref, qs)


@SLOW
@given(scenarios())
def test_requires_is_exact_over_every_assignment_closed_under_implication(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, implies, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, implies, rule_list), "gen.policy")
    ref = ClosedReference(rule_list, vocab["fact"], implies)
    assert_requires_exact(policy, qs, ref.worlds())


@SLOW
@given(scenarios())
def test_a_sub_action_rule_never_changes_its_parents_answer(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, implies, rule_list, qs = scenario
    base = [r for r in rule_list if r.action in ast.ACTIONS]
    with_subs = policy_engine.loads(policy_text(vocab, implies, rule_list), "a.policy")
    without = policy_engine.loads(policy_text(vocab, implies, base), "b.policy")
    for q in qs:
        if q["action"] in ast.ACTIONS:
            assert with_subs.decide(q).decision == without.decide(q).decision, q
