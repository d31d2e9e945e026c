"""The laws of docs/semantics.md, by property, against a plain reference interpreter.

The reference (`Reference` below) is written straight from docs/semantics.md: it walks the
parsed rules for every query, with no index, no graph, no simplification. Policies are
random vocabularies with hierarchies and random rules, printed with the language's printer
and loaded through the public API, so the whole pipeline is under test.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine.language import ast
from policy_engine.language import logic
from policy_engine.language.printer import format_policy

from properties.strategies import conditions_over

# ---- the reference interpreter: docs/semantics.md, plainly -------------------------------------


def _ids(refs: tuple[ast.TermRef, ...] | None) -> list[str] | None:
    return None if refs is None else [r.id for r in refs]


def _covers(rule_terms: list[str], term: str) -> bool:
    """The query's term equals one of the rule's terms or is a descendant of it."""
    return any(term == t or term.startswith(t + ".") for t in rule_terms)


def _holds(cond: ast.Condition | None, facts: frozenset[str]) -> bool:
    if cond is None:
        return True
    if isinstance(cond, ast.FactRef):
        return cond.name in facts
    if isinstance(cond, ast.Not):
        return not _holds(cond.operand, facts)
    if isinstance(cond, ast.And):
        return all(_holds(o, facts) for o in cond.operands)
    return any(_holds(o, facts) for o in cond.operands)


class Reference:
    def __init__(self, tree: ast.PolicyFile):
        self.rules = [rule for _, rule in tree.rules()]
        self.facts = sorted(d.id for d in tree.terms if d.kind == "fact")

    def matches(self, rule: ast.Rule, q: dict) -> bool:
        if rule.action != q["action"]:
            return False
        for dim, terms in (("data", _ids(rule.data)), ("source", _ids(rule.sources)),
                           ("purpose", _ids(rule.purposes)), ("recipient", _ids(rule.recipients))):
            if not terms:  # all data, or a dimension the rule leaves open: matches anything
                continue
            value = q.get(dim)
            if value is None:  # constrained, but the query leaves it out
                if rule.effect == "allow":
                    return False  # an allow cannot be proven to apply
                continue  # a deny applies: fail closed
            if not _covers(terms, value):
                return False
        return True

    def matching(self, q: dict) -> list[ast.Rule]:
        return [r for r in self.rules if self.matches(r, q)]

    def closed(self, q: dict, facts: frozenset[str]) -> tuple[str, list[ast.Rule]]:
        m = self.matching(q)
        denying = [r for r in m if r.effect == "deny" and _holds(r.condition, facts)]
        if denying:
            return "deny", denying
        allowing = [r for r in m if r.effect == "allow" and _holds(r.condition, facts)]
        if allowing:
            return "allow", allowing
        return "deny", []

    def worlds(self) -> list[frozenset[str]]:
        return [frozenset(c) for n in range(len(self.facts) + 1) for c in itertools.combinations(self.facts, n)]

    def allowed_worlds(self, q: dict) -> set[frozenset[str]]:
        """`A and not D` as the set of fact sets under which it holds."""
        m = self.matching(q)
        out = set()
        for world in self.worlds():
            a = any(_holds(r.condition, world) for r in m if r.effect == "allow")
            d = any(_holds(r.condition, world) for r in m if r.effect == "deny")
            if a and not d:
                out.add(world)
        return out

    def partial(self, q: dict) -> str:
        allowed = self.allowed_worlds(q)
        if len(allowed) == len(self.worlds()):
            return "allow"
        return "deny" if not allowed else "conditional"


# ---- strategies -----------------------------------------------------------------------------

PREFIX = {"data": "d", "source": "s", "purpose": "p", "recipient": "r"}


@st.composite
def vocabularies(draw) -> dict[str, list[str]]:
    vocab: dict[str, list[str]] = {}
    for kind, prefix in PREFIX.items():
        ids: list[str] = []
        for r in range(draw(st.integers(1, 3))):
            root = f"{prefix}{r}"
            ids.append(root)
            for c in range(draw(st.integers(0, 2))):
                child = f"{root}.c{c}"
                ids.append(child)
                if draw(st.booleans()):
                    ids.append(child + ".g")
        vocab[kind] = ids
    vocab["fact"] = [f"f{i}" for i in range(draw(st.integers(0, 3)))]
    return vocab


def _refs(ids: list[str]) -> tuple[ast.TermRef, ...]:
    return tuple(ast.TermRef(id=i) for i in ids)


@st.composite
def rules(draw, vocab: dict[str, list[str]], effect: str | None = None) -> ast.Rule:
    def some(kind: str, min_size: int = 0) -> list[str]:
        return draw(st.lists(st.sampled_from(vocab[kind]), min_size=min_size, max_size=2, unique=True))

    cond = None
    if vocab["fact"] and draw(st.booleans()):
        cond = draw(conditions_over(vocab["fact"]))
        if not any(logic.evaluate(cond, w) for w in _all_worlds(vocab["fact"])):
            cond = None  # the checker rejects a condition that can never hold
    return ast.Rule(
        effect=effect or draw(st.sampled_from(["allow", "allow", "deny"])),
        action=draw(st.sampled_from(ast.ACTIONS)),
        data=None if draw(st.integers(0, 5)) == 0 else _refs(some("data", 1)),
        sources=_refs(some("source")),
        purposes=_refs(some("purpose")),
        recipients=_refs(some("recipient")),
        condition=cond,
        basis=draw(st.one_of(st.none(), st.sampled_from(ast.LEGAL_BASES).map(lambda b: ast.TermRef(id=b)))),
    )


def _all_worlds(facts: list[str]) -> list[frozenset[str]]:
    return [frozenset(c) for n in range(len(facts) + 1) for c in itertools.combinations(facts, n)]


@st.composite
def queries(draw, vocab: dict[str, list[str]]) -> dict:
    action = draw(st.sampled_from(ast.ACTIONS))
    q: dict = {"action": action, "data": draw(st.sampled_from(vocab["data"]))}
    needed = ast.REQUIRED_DIMENSION.get(action)
    for dim in ("source", "purpose", "recipient"):
        if dim == needed or draw(st.booleans()):
            q[dim] = draw(st.sampled_from(vocab[dim]))
    if draw(st.booleans()):
        q["facts"] = draw(st.lists(st.sampled_from(vocab["fact"]), unique=True)) if vocab["fact"] else []
    return q


def policy_text(vocab: dict[str, list[str]], rule_list: list[ast.Rule], sections: int = 1) -> str:
    terms = tuple(ast.TermDecl(kind=k, id=i, label=f"{k} {i}") for k, ids in vocab.items() for i in ids)
    size = max(1, -(-len(rule_list) // sections))
    chunks = [rule_list[i:i + size] for i in range(0, len(rule_list), size)] or [[]]
    secs = tuple(ast.Section(title=f"S{n}", items=tuple(chunk)) for n, chunk in enumerate(chunks))
    return format_policy(ast.PolicyFile(meta=ast.Metadata(name="Generated"), terms=terms, sections=secs))


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    vocab = draw(vocabularies())
    rule_list = draw(st.lists(rules(vocab), max_size=8))
    qs = draw(st.lists(queries(vocab), min_size=1, max_size=6))
    return vocab, rule_list, qs


# ---- helpers ---------------------------------------------------------------------------------


def _cited(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(r.rule for r in decision.reasons)


def _texts(rule_list: list[ast.Rule]) -> list[str]:
    from policy_engine.language.printer import format_rule

    return sorted(format_rule(r) for r in rule_list)


def _worlds_of(text: str | None, facts: list[str]) -> set[frozenset[str]]:
    """The fact sets under which a `requires` / `would_allow_if` text holds (read back with the
    language's own condition syntax)."""
    assert text is not None
    cond = logic.parse_condition(text)
    return {w for w in _all_worlds(facts) if logic.evaluate(cond, w)}


def _assert_readable(cond: ast.Condition) -> None:
    """No `x or x`, no `a and not a`, at any level of the expression."""
    if isinstance(cond, ast.Not):
        _assert_readable(cond.operand)
    elif isinstance(cond, (ast.And, ast.Or)):
        ops = list(cond.operands)
        assert len(set(ops)) == len(ops), f"repeated operand in {logic.to_text(cond)}"
        for o in ops:
            assert ast.Not(operand=o) not in ops, f"contradiction or tautology in {logic.to_text(cond)}"
            _assert_readable(o)


SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


# ---- the laws --------------------------------------------------------------------------------


def assert_agrees_closed_and_partial(policy, ref, qs, also=None) -> None:  # type: ignore[no-untyped-def]
    """The reference law in its short form: with facts, the same decision and cited rules as the
    reference's closed world (then `also(got, cited)`, for what an extension adds); without, the same
    decision as its partial evaluation."""
    for q in qs:
        got = policy.decide(q)
        if q.get("facts") is not None:
            want, cited = ref.closed(q, frozenset(q["facts"]))
            assert got.decision == want, q
            assert _cited(got) == _texts(cited), q
            if also is not None:
                also(got, cited)
        else:
            assert got.decision == ref.partial(q), q


@SLOW
@given(scenarios())
def test_engine_agrees_with_the_reference(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, rule_list), "gen.policy")
    ref = Reference(ast.PolicyFile(sections=(ast.Section(title="S0", items=tuple(rule_list)),)))
    ref.facts = vocab["fact"]
    for q in qs:
        got = policy.decide(q)
        if q.get("facts") is not None:
            want, cited = ref.closed(q, frozenset(q["facts"]))
            assert got.decision == want, q
            assert _cited(got) == _texts(cited), q
            assert got.requires is None
            allowed = ref.allowed_worlds(q)
            if want == "deny" and allowed:
                assert _worlds_of(got.would_allow_if, vocab["fact"]) == allowed, q
            else:
                assert got.would_allow_if is None, q
        else:
            assert got.decision == ref.partial(q), q
            assert got.would_allow_if is None
            matching = ref.matching(q)
            if got.decision == "conditional":
                want_cited = matching
            else:
                effect = got.decision
                of_effect = [r for r in matching if r.effect == effect]
                want_cited = [r for r in of_effect if r.condition is None] or of_effect
            assert _cited(got) == _texts(want_cited), q


@SLOW
@given(scenarios())
def test_requires_equals_the_closed_world_answer_under_every_fact_set(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, rule_list), "gen.policy")
    assert_requires_exact(policy, qs, _all_worlds(vocab["fact"]))


def assert_requires_exact(policy, qs, worlds) -> None:  # type: ignore[no-untyped-def]
    """The law of `requires`: asked without facts, a conditional answer's condition holds in exactly the
    fact sets (`worlds`) in which the same question asked with them is allowed."""
    for q in qs:
        partial = policy.decide({k: v for k, v in q.items() if k != "facts"})
        if partial.decision != "conditional":
            continue
        cond = logic.parse_condition(partial.requires)
        _assert_readable(cond)
        for world in worlds:
            closed = policy.decide({**q, "facts": sorted(world)})
            assert logic.evaluate(cond, world) == (closed.decision == "allow"), (q, world, partial.requires)


@SLOW
@given(scenarios(), st.randoms(use_true_random=False), st.integers(1, 3))
def test_rule_order_changes_nothing(scenario, rnd: random.Random, sections: int) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    shuffled = list(rule_list)
    rnd.shuffle(shuffled)
    first = policy_engine.loads(policy_text(vocab, rule_list), "a.policy")
    second = policy_engine.loads(policy_text(vocab, shuffled, sections), "b.policy")
    for q in qs:
        a, b = first.decide(q), second.decide(q)
        assert (a.decision, a.requires, a.would_allow_if) == (b.decision, b.requires, b.would_allow_if), q
        assert _cited(a) == _cited(b), q


_ORDER = {"deny": 0, "conditional": 1, "allow": 2}


@SLOW
@given(st.data())
def test_adding_a_deny_never_widens_an_answer(data) -> None:  # type: ignore[no-untyped-def]
    vocab = data.draw(vocabularies())
    rule_list = data.draw(st.lists(rules(vocab), max_size=8))
    extra = data.draw(rules(vocab, effect="deny"))
    qs = data.draw(st.lists(queries(vocab), min_size=1, max_size=6))
    before = policy_engine.loads(policy_text(vocab, rule_list), "a.policy")
    after = policy_engine.loads(policy_text(vocab, [*rule_list, extra]), "b.policy")
    for q in qs:
        b, a = before.decide(q), after.decide(q)
        assert _ORDER[a.decision] <= _ORDER[b.decision], q
        if q.get("facts") is None and a.decision == b.decision == "conditional":
            assert _worlds_of(a.requires, vocab["fact"]) <= _worlds_of(b.requires, vocab["fact"]), q
        for world in _all_worlds(vocab["fact"]):
            closed_q = {**q, "facts": sorted(world)}
            if after.decide(closed_q).decision == "allow":
                assert before.decide(closed_q).decision == "allow", closed_q


@SLOW
@given(scenarios())
def test_answers_are_stable_and_batch_equals_single(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, rule_list), "gen.policy")
    single = [policy.decide(q) for q in qs]
    assert policy.decide_many(qs) == single
    assert [policy.decide(policy_engine.Query(**q)) for q in qs] == single
    fresh = policy_engine.loads(policy_text(vocab, rule_list), "gen.policy")
    assert fresh.decide_many(list(reversed(qs))) == list(reversed(single))


@pytest.mark.parametrize("seed", range(3))
def test_reference_sanity_on_the_spec_example(seed: int) -> None:
    """The reference itself, on docs/semantics.md's example: asked without a source, e-mail for
    marketing is denied because forum e-mail never may be."""
    text = """policy "P"
data email "E-mail"
source contact "Contact"
source forum "Forum"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
fact newsletter_form "Form"
section "S":
  allow use of email from contact for marketing if newsletter_form
  deny use of email from forum for marketing
"""
    policy = policy_engine.loads(text)
    from policy_engine.api import check_text

    ref = Reference(check_text(text).policy)  # type: ignore[arg-type]
    ref.facts = ["newsletter_form"]
    q = {"action": "use", "data": "email", "purpose": "marketing.newsletter", "facts": ["newsletter_form"]}
    if seed == 1:
        q["source"] = "contact"
    if seed == 2:
        del q["facts"]
        q["source"] = "contact"
    want = ref.closed(q, frozenset(q["facts"]))[0] if "facts" in q else ref.partial(q)
    assert want == ["deny", "allow", "conditional"][seed]
    assert policy.decide(q).decision == want


# ---- many facts, deep and wide conditions: the reference on sampled fact sets ------------------


def big_conditions(facts: list[str]) -> st.SearchStrategy[ast.Condition]:
    return conditions_over(facts, width=6, leaves=30)


def _nest(cond: ast.Condition, levels: int) -> ast.Condition:
    """`not not ... cond`: the same function, nested as deep as asked."""
    for _ in range(levels * 2):
        cond = ast.Not(operand=cond)
    return cond


@st.composite
def big_scenarios(draw):  # type: ignore[no-untyped-def]
    vocab = draw(vocabularies())
    facts = [f"f{i:02d}" for i in range(draw(st.integers(13, 40)))]
    rule_list = []
    for rule in draw(st.lists(rules({**vocab, "fact": []}), min_size=1, max_size=6)):
        cond = draw(st.one_of(st.none(), big_conditions(facts)))
        if cond is not None:
            cond = _nest(cond, draw(st.integers(0, 60)))
            if not logic.satisfiable(cond):
                cond = None  # the checker rejects a condition that can never hold
        rule_list.append(rule.model_copy(update={"condition": cond}))
    vocab["fact"] = facts
    qs = draw(st.lists(queries(vocab), min_size=1, max_size=4))
    return vocab, rule_list, qs


@SLOW
@given(big_scenarios(), st.randoms(use_true_random=False))
def test_many_facts_agree_with_the_reference_on_sampled_fact_sets(scenario, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, rule_list), "big.policy")
    ref = Reference(ast.PolicyFile(sections=(ast.Section(title="S0", items=tuple(rule_list)),)))
    worlds = [frozenset(f for f in vocab["fact"] if rnd.random() < 0.5) for _ in range(60)]
    for q in qs:
        open_q = {k: v for k, v in q.items() if k != "facts"}
        partial = policy.decide(open_q)
        cond = None if partial.requires is None else logic.parse_condition(partial.requires)
        for world in worlds:
            want, cited = ref.closed(open_q, world)
            got = policy.decide({**open_q, "facts": sorted(world)})
            assert got.decision == want and _cited(got) == _texts(cited), (open_q, sorted(world))
            if partial.decision != "conditional":
                assert want == partial.decision, (open_q, sorted(world))
            else:
                assert logic.evaluate(cond, world) == (want == "allow"), (open_q, sorted(world), partial.requires)
