"""Semantic diff of two compiled policies. In: two loaded Policies. Out: DiffResult, the
questions whose answer changed, grouped and told as sentences, each widened or narrowed.

The question space is every action with every data term, and every source, purpose and
recipient term or none, of both vocabularies; facts omitted, since the answer with facts
omitted (allow, deny, or conditional with `requires`) fixes the answer under every fact set.
A question changed when some fact set gets a different closed-world answer; it *widened* when
some fact set is allowed now and was not before, *narrowed* in the other direction (a changed
condition can do both).

Exact and fast: a rule present in both policies (same effect, action, terms and condition)
matches exactly the same questions in both, so only questions matched by a rule of one policy
and not the other can change. `space.classes` refines the space dimension by dimension over the
decision indexes of both policies and prunes every class no such rule matches; the answer of a
class is `logic.requirement` over its matching rules, as the engine computes it, and its
reasons come from the engine's own `decide`.

A question that names a term only one vocabulary declares is answered by the other policy as
it would answer it had it declared the term (like the nearest declared ancestor; see
`space.term_bits`), so a declaration alone is never a change, and a new term is compared with
what its parent was allowed before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from policy_engine.language import ast
from policy_engine.language import logic
from policy_engine.language import timelimits
from policy_engine.engine.compiler import CompiledPolicy, CompiledRule, bits
from policy_engine.engine.index import bitset, open_on
from policy_engine.engine.space import DIMENSIONS, QuestionClass, classes
from policy_engine.guard.diff_words import sentence
from policy_engine.engine.policy import Policy



def rule_key(rule: CompiledRule) -> tuple[Any, ...]:
    """What a rule means for decisions (its location, text and basis aside)."""
    return (rule.effect, rule.action, None if rule.data is None else frozenset(rule.data),
            frozenset(rule.sources), frozenset(rule.purposes), frozenset(rule.recipients), rule.condition_text,
            frozenset(rule.destinations))


@dataclass(frozen=True)
class Answer:
    decision: str  # allow | deny | conditional
    requirement: logic.Requirement

    @property
    def requires(self) -> str | None:
        if self.decision != "conditional":
            return None
        return logic.to_text(self.requirement)  # type: ignore[arg-type]


@dataclass
class ChangeGroup:
    """A class of questions, all changed alike."""

    action: str
    values: dict[str, tuple[str | None, ...]]
    before: Answer
    after: Answer
    widened: bool
    narrowed: bool
    reasons_before: list[dict[str, Any]] = field(default_factory=list)
    reasons_after: list[dict[str, Any]] = field(default_factory=list)
    sentence: str = ""

    @property
    def mark(self) -> str:
        if self.widened and self.narrowed:
            return "widened and narrowed"
        return "widened" if self.widened else "narrowed" if self.narrowed else "reworded"

    def questions(self) -> Iterator[dict[str, Any]]:
        yield from QuestionClass(self.action, self.values, ()).questions()

    def example(self) -> dict[str, Any]:
        """The simplest question of the group (dimensions left out where it can)."""
        return QuestionClass(self.action, self.values, ()).representative()

    def size(self) -> int:
        return QuestionClass(self.action, self.values, ()).size()


@dataclass
class DiffResult:
    old_path: str
    new_path: str
    groups: list[ChangeGroup]
    renames: list[Any] = field(default_factory=list)  # guard/renames.py: terms renamed with their rules

    @property
    def widened(self) -> int:
        return sum(g.size() for g in self.groups if g.widened)

    @property
    def narrowed(self) -> int:
        return sum(g.size() for g in self.groups if g.narrowed)

    def changes(self) -> Iterator[dict[str, Any]]:
        """One entry per question (docs/semantics.md fields, facts omitted), as the JSON lists them."""
        for g in self.groups:
            for q in g.questions():
                yield {"query": {**q, "facts": None}, "before": g.before.decision, "after": g.after.decision,
                       "before_requires": g.before.requires, "after_requires": g.after.requires,
                       "widened": g.widened, "narrowed": g.narrowed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_path,
            "new": self.new_path,
            "changes": list(self.changes()),
            "widened": self.widened,
            "narrowed": self.narrowed,
            "summary": [{"sentence": g.sentence, "mark": g.mark, "action": g.action,
                         **{dim: list(g.values[dim]) for dim in DIMENSIONS
                            if dim != "destination" or g.values[dim] != (None,)},
                         "before": g.before.decision, "after": g.after.decision,
                         "before_requires": g.before.requires, "after_requires": g.after.requires,
                         "questions": g.size(), "reasons_before": g.reasons_before,
                         "reasons_after": g.reasons_after} for g in self.groups],
        }


# ---- computing the diff ---------------------------------------------------------------------


def answer(cp: CompiledPolicy, match: int) -> Answer:
    """The partial-evaluation answer for the rules in `match`, as the engine computes it."""
    allows: list[ast.Condition | None] = []
    denies: list[ast.Condition | None] = []
    for i in bits(match):
        rule = cp.rules[i]
        (allows if rule.effect == "allow" else denies).append(rule.condition)
    req = logic.requirement(allows, denies, care=cp.vocabulary.care(logic.facts_of_all([*allows, *denies])))
    return Answer("allow" if req is True else "deny" if req is False else "conditional", req)


def compare(before: Answer, after: Answer) -> tuple[bool, bool] | None:
    """(widened, narrowed), or None when every fact set gets the same answer."""
    return logic.differences(before.requirement, after.requirement)


TABLE_FACTS_MAX = 14  # up to this many facts in both policies, truth tables; beyond, BDDs (logic.Algebra)


class _Verdicts:
    """(widened, narrowed) or None per pair of matching-rule bitsets, by comparing `A and not D`
    of docs/semantics.md for each policy as Boolean functions (`logic.Algebra`: one value per rule
    over the facts of both policies, exact at any number of facts). Memoised: many classes share
    their matching rules."""

    def __init__(self, old: CompiledPolicy, new: CompiledPolicy):
        self.policies = (old, new)
        facts = frozenset().union(*(r.facts for cp in self.policies for r in cp.rules))
        time_care = timelimits.care(facts)  # time limits: only the assignments that can happen (an atom holds
        if time_care is not None:           # only with its anchor, a shorter limit only with a longer one)
            facts = facts | logic.facts_of(time_care)
        self.alg = logic.Algebra(facts, table_max=TABLE_FACTS_MAX)
        self.care = self.alg.true if time_care is None else self.alg.of(time_care)
        self.values: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        self.memo: dict[tuple[int, int], tuple[bool, bool] | None] = {}

    def _split(self, side: int, match: int) -> tuple[list[CompiledRule], list[CompiledRule]]:
        allows, denies = [], []
        for i in bits(match):
            rule = self.policies[side].rules[i]
            (allows if rule.effect == "allow" else denies).append(rule)
        return allows, denies

    def value(self, side: int, rule: CompiledRule) -> Any:
        cache = self.values[side]
        v = cache.get(rule.index)
        if v is None:
            v = cache[rule.index] = self.alg.of(rule.condition)
        return v

    def any_of(self, side: int, rules: list[CompiledRule]) -> Any:
        out = self.alg.false
        for r in rules:
            out = out | self.value(side, r)
        return out

    def verdict(self, mo: int, mn: int) -> tuple[bool, bool] | None:
        key = (mo, mn)
        if key in self.memo:
            return self.memo[key]
        (ao, do), (an, dn) = self._split(0, mo), self._split(1, mn)
        if {(r.effect, r.condition_text) for r in ao + do} == {(r.effect, r.condition_text) for r in an + dn}:
            out = None
        else:
            alg = self.alg
            before = alg.minus(self.any_of(0, ao), self.any_of(0, do)) & self.care
            after = alg.minus(self.any_of(1, an), self.any_of(1, dn)) & self.care
            out = None if before == after else (alg.minus(after, before) != alg.false,
                                                 alg.minus(before, after) != alg.false)
        self.memo[key] = out
        return out


class _Pruner:
    """Drops a subtree of the question space when no question below can change.

    Below a node, the rules open on every dimension still to refine are certain to match; the
    others may or may not. With C the rules both policies share (same meaning) and X those of
    one policy only, a fact set F can only be answered differently if
      no certain shared deny holds, and
      (an X allow may hold while no certain shared allow does) or (an X deny may hold while
      some allow may hold);
    otherwise both policies deny (a shared deny holds), or the X rules are inert under F, or a
    shared allow already holds and the X denies cannot. The test is exact, on the rules'
    conditions as `logic.Algebra` values."""

    def __init__(self, verdicts: _Verdicts, delta_old: int, delta_new: int):
        self.v = verdicts
        self.delta = (delta_old, delta_new)
        o, n = verdicts.policies
        self.open: list[dict[str, int]] = []
        self.denies: list[int] = []
        for cp in (o, n):
            self.open.append({dim: open_on(cp.rules, dim) for dim in DIMENSIONS})
            assert cp.index is not None
            self.denies.append(cp.index.denies)

    def _or(self, side: int, match: int) -> Any:
        rules = self.v.policies[side].rules
        return self.v.any_of(side, [rules[i] for i in bits(match)])

    def prune(self, masks: tuple[int, ...], remaining: tuple[str, ...]) -> bool:
        mo, mn = masks
        xo, xn = mo & self.delta[0], mn & self.delta[1]
        if not xo and not xn:
            return True
        if not remaining:
            return False  # at the leaves the verdict itself decides
        alg = self.v.alg
        certain = self.open[0][remaining[0]]
        for dim in remaining[1:]:
            certain &= self.open[0][dim]
        shared = mo & ~self.delta[0] & certain  # old's shared rules certain to match below
        deny_c = self._or(0, shared & self.denies[0])
        x_allow = self._or(0, xo & ~self.denies[0]) | self._or(1, xn & ~self.denies[1])
        x_deny = self._or(0, xo & self.denies[0]) | self._or(1, xn & self.denies[1])
        if alg.minus(x_allow | x_deny, deny_c) == alg.false:
            return True
        allow_c = self._or(0, shared & ~self.denies[0])
        allow_any = self._or(0, mo & ~self.denies[0]) | self._or(1, mn & ~self.denies[1])
        return alg.minus(alg.minus(x_allow, allow_c) | (x_deny & allow_any), deny_c) == alg.false


def semantic_diff(old: Policy, new: Policy) -> DiffResult:
    o, n = old.compiled, new.compiled
    assert o.index is not None and n.index is not None
    listed_old = [rule_key(r) for r in o.rules]
    listed_new = [rule_key(r) for r in n.rules]
    keys_old, keys_new = set(listed_old), set(listed_new)
    delta_old = bitset((i for i, k in enumerate(listed_old) if k not in keys_new), len(listed_old))
    delta_new = bitset((i for i, k in enumerate(listed_new) if k not in keys_old), len(listed_new))
    groups: list[ChangeGroup] = []
    if not delta_old and not delta_new:
        return DiffResult(old.path, new.path, groups)
    verdicts = _Verdicts(o, n)
    prune = _Pruner(verdicts, delta_old, delta_new).prune
    sub_actions = dict.fromkeys([*o.vocabulary.terms["action"], *n.vocabulary.terms["action"]])
    for action in (*ast.ACTIONS, *sub_actions):
        for cls in classes([o, n], action, prune=prune, focus=(delta_old, delta_new)):
            verdict = verdicts.verdict(*cls.matches)
            if verdict is None:
                continue
            before, after = answer(o, cls.matches[0]), answer(n, cls.matches[1])
            group = ChangeGroup(action, cls.values, before, after, *verdict)
            query = {**cls.representative(), "facts": None}
            group.reasons_before = _reasons(old, query)
            group.reasons_after = _reasons(new, query)
            group.sentence = sentence(group, [o, n])
            groups.append(group)
    return DiffResult(old.path, new.path, groups)


def _reasons(loaded: Policy, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's reasons for the question; for a term this policy does not declare, the
    reasons for the same question about its nearest declared ancestor (or none)."""
    vocab = loaded.compiled.vocabulary
    assert vocab is not None
    asked = dict(query)
    for dim in DIMENSIONS:
        value = asked.get(dim)
        while value is not None and not vocab.has(ast.kind_of(dim), value):
            value = value.rsplit(".", 1)[0] if "." in value else None
        if value is None and query.get(dim) is not None:
            return []
        asked[dim] = value
    decision = loaded.decide(asked)
    return [r.model_dump(mode="json") for r in decision.reasons]
