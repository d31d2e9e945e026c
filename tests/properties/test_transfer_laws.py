"""The laws of transfers, by property: the plain reference interpreter of test_engine_laws grown by
exactly what the semantics say of a destination, and the semantic diff exact over a question space
that includes one.

- a rule naming destinations matches a question whose destination is one of them or lies under one;
- a rule naming destinations and a question naming none: an allow cannot be proven to apply, a deny
  applies (fail closed); with facts omitted, `requires` agrees with the closed world on every
  assignment;
- a rule naming no destination matches any destination, or none; so for a policy that names no
  destination, asking with one changes no answer;
- `diff` lists exactly the questions (destination included) whose answer changes.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import policy_engine
from policy_engine.engine.loader import load_text
from policy_engine.guard.diff import semantic_diff
from policy_engine.language import ast, logic
from policy_engine.language.printer import format_condition, format_policy

from properties.test_engine_laws import SLOW, assert_agrees_closed_and_partial, assert_requires_exact, Reference, _covers, _refs, vocabularies
from properties.strategies import conditions_over

REGIONS = ["region", "region.a", "region.a.x", "region.b"]
SAFEGUARDS = ["sg", "sg.c", "other"]


class TransferReference(Reference):
    """docs/semantics.md's reference, with the destination as one more dimension (terms: regions)."""

    def __init__(self, rules: list[ast.Rule], facts: list[str]):
        self.rules = rules
        self.facts = facts

    def matches(self, rule: ast.Rule, q: dict) -> bool:
        if not super().matches(rule, q):
            return False
        regions = [r.id for r in rule.destinations]
        if not regions:
            return True
        value = q.get("destination")
        if value is None:
            return rule.effect == "deny"
        return _covers(regions, value)


def _destinations(draw: st.DrawFn, rule: ast.Rule) -> ast.Rule:
    """Perhaps a destination (and, on an allow, its safeguard) on a share, or on a collect by a recipient."""
    base = rule.action
    if base not in ("share", "collect") or (base == "collect" and not rule.recipients) or not draw(st.booleans()):
        return rule
    regions = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True))
    safeguard = _refs([draw(st.sampled_from(SAFEGUARDS))])[0] if rule.effect == "allow" else None
    return rule.model_copy(update={"destinations": _refs(regions), "safeguard": safeguard})


@st.composite
def scenarios(draw):  # type: ignore[no-untyped-def]
    vocab = draw(vocabularies())
    facts = vocab["fact"] or ["f0"]
    vocab["fact"] = facts
    rule_list = []
    for _ in range(draw(st.integers(0, 7))):
        rule = ast.Rule(
            effect=draw(st.sampled_from(["allow", "allow", "deny"])),
            action=draw(st.sampled_from(["share", "share", "collect", "use"])),
            data=None if draw(st.booleans()) else _refs([draw(st.sampled_from(vocab["data"]))]),
            recipients=_refs(draw(st.lists(st.sampled_from(vocab["recipient"]), max_size=1))),
            sources=_refs(draw(st.lists(st.sampled_from(vocab["source"]), max_size=1))),
            condition=draw(st.one_of(st.none(), conditions_over(facts).filter(lambda c: logic.simplify(c) is not False))))
        rule_list.append(_destinations(draw, rule))
    queries = []
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["share", "collect", "use"]))
        q: dict = {"action": action, "data": draw(st.sampled_from(vocab["data"]))}
        needed = ast.required_dimension(action)
        for dim in ("source", "purpose", "recipient"):
            if dim == needed or draw(st.booleans()):
                q[dim] = draw(st.sampled_from(vocab[dim]))
        if draw(st.booleans()):
            q["destination"] = draw(st.sampled_from(REGIONS))
        if draw(st.booleans()):
            q["facts"] = draw(st.lists(st.sampled_from(facts), unique=True))
        queries.append(q)
    return vocab, rule_list, queries


def policy_text(vocab: dict[str, list[str]], rule_list: list[ast.Rule]) -> str:
    terms = [ast.TermDecl(kind=k, id=i, label=f"{k} {i}") for k, ids in vocab.items() for i in ids]
    terms += [ast.TermDecl(kind="region", id=r, label=r) for r in REGIONS]
    terms += [ast.TermDecl(kind="safeguard", id=s, label=s) for s in SAFEGUARDS]
    return format_policy(ast.PolicyFile(meta=ast.Metadata(name="Generated"), terms=tuple(terms),
                                        sections=(ast.Section(title="S0", items=tuple(rule_list)),)))


@SLOW
@given(scenarios())
def test_engine_agrees_with_the_reference_with_destinations(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, rule_list), "gen.policy")
    ref = TransferReference(rule_list, vocab["fact"])

    def safeguards_reported(got, cited) -> None:  # type: ignore[no-untyped-def]
        by_text = {r.rule: r.safeguard for r in got.reasons}
        for rule in cited:  # the safeguard each cited rule states is the one its reason reports
            assert by_text[policy_engine_text(rule)] == (rule.safeguard.id if rule.safeguard else None)

    assert_agrees_closed_and_partial(policy, ref, qs, safeguards_reported)


def policy_engine_text(rule: ast.Rule) -> str:
    from policy_engine.language.printer import format_rule

    return format_rule(rule)


@SLOW
@given(scenarios())
def test_requires_is_exact_with_destinations(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    policy = policy_engine.loads(policy_text(vocab, rule_list), "gen.policy")
    ref = TransferReference(rule_list, vocab["fact"])
    assert_requires_exact(policy, qs, ref.worlds())


@SLOW
@given(scenarios())
def test_without_destination_rules_a_destination_changes_no_answer(scenario) -> None:  # type: ignore[no-untyped-def]
    vocab, rule_list, qs = scenario
    plain = [r.model_copy(update={"destinations": (), "safeguard": None}) for r in rule_list]
    policy = policy_engine.loads(policy_text(vocab, plain), "gen.policy")
    for q in qs:
        without = {k: v for k, v in q.items() if k != "destination"}
        for region in (None, *REGIONS):
            asked = without if region is None else {**without, "destination": region}
            assert policy.decide(asked) == policy.decide(without), asked


# ---- diff, exact over a space with destinations ---------------------------------------------------

UNIVERSE = {"data": ["d", "d.a"], "source": ["s"], "purpose": ["p"], "recipient": ["r", "r.a"]}
FACTS = ["f", "g"]
DIMS = ("data", "source", "purpose", "recipient", "destination")
_conds = st.recursive(st.sampled_from(FACTS).map(lambda f: ast.FactRef(name=f)), lambda inner: st.one_of(
    inner.map(lambda c: ast.Not(operand=c)),
    st.lists(inner, min_size=2, max_size=2).map(lambda ops: ast.And(operands=tuple(ops))),
    st.lists(inner, min_size=2, max_size=2).map(lambda ops: ast.Or(operands=tuple(ops)))), max_leaves=3
).filter(lambda c: logic.simplify(c) is not False)


@st.composite
def transfer_rules(draw: st.DrawFn) -> str:
    effect = draw(st.sampled_from(["allow", "allow", "deny"]))
    action = draw(st.sampled_from(["share", "share", "use"]))
    text = f"{effect} {action} of " + draw(st.sampled_from(["all data", "d", "d.a"]))
    if action == "use" or draw(st.booleans()):
        text += " for p"
    recipient = draw(st.sampled_from([None, "r", "r.a"]))
    if recipient:
        text += f" with {recipient}"
    if action == "share" and draw(st.booleans()):
        text += " in " + ", ".join(draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True)))
        if effect == "allow":
            text += " under " + draw(st.sampled_from(SAFEGUARDS))
    if draw(st.booleans()):
        text += " if " + format_condition(draw(_conds))
    return text


def transfer_policy(rules: list[str]) -> str:
    lines = [f'{k} {i} "{i}"' for k, ids in UNIVERSE.items() for i in ids]
    lines += [f'region {r} "{r}"' for r in REGIONS] + [f'safeguard {s} "{s}"' for s in SAFEGUARDS]
    lines += [f'fact {f} "{f}"' for f in FACTS] + ['section "Rules":'] + ["  " + r for r in rules]
    return "\n".join(lines) + "\n"


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    old = draw(st.lists(transfer_rules(), max_size=5))
    new = list(old)
    if new and draw(st.booleans()):
        i = draw(st.integers(0, len(new) - 1))
        new[i] = draw(transfer_rules())
    else:
        new = draw(st.lists(transfer_rules(), max_size=5))
    return transfer_policy(old), transfer_policy(new)


def all_questions() -> list[dict[str, Any]]:
    out = []
    for action in ("share", "use", "collect", "retain"):
        need = ast.REQUIRED_DIMENSION.get(action)
        options = [UNIVERSE["data"]] + [UNIVERSE[k] + ([] if need == k else [None]) for k in DIMS[1:4]]
        options.append([None, *REGIONS])
        for combo in itertools.product(*options):
            out.append({"action": action, **dict(zip(DIMS, combo))})
    return out


@functools.lru_cache(maxsize=4096)
def _table_of(requires: str) -> int:
    return logic.truth_table(logic.parse_condition(requires), FACTS)


def table(loaded: policy_engine.Policy, q: dict[str, Any]) -> int:
    d = loaded.decide({**q, "facts": None})
    if d.decision == "allow":
        return logic.truth_table(True, FACTS)
    return 0 if d.decision == "deny" else _table_of(d.requires or "")


def _key(q: dict[str, Any]) -> tuple[Any, ...]:
    return (q["action"], *(q.get(d) for d in DIMS))


@SLOW
@given(pairs())
def test_diff_is_exact_over_questions_with_destinations(pair: tuple[str, str]) -> None:
    old, new = load_text(pair[0], "old.policy"), load_text(pair[1], "new.policy")
    result = semantic_diff(old, new)
    listed = {_key(c["query"]): c for c in result.changes()}
    assert len(listed) == sum(g.size() for g in result.groups), "a question is listed twice"
    expected = {}
    for q in all_questions():
        before, after = table(old, q), table(new, q)
        if before != after:
            expected[_key(q)] = (before, after)
    assert set(listed) == set(expected), (sorted(set(expected) - set(listed))[:5], sorted(set(listed) - set(expected))[:5])
    for k, (before, after) in expected.items():
        assert listed[k]["widened"] == bool(after & ~before)
        assert listed[k]["narrowed"] == bool(before & ~after)
