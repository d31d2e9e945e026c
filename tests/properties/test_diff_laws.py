"""The semantic diff's laws, over random pairs of valid policies.

Exactness: the questions `diff` lists are precisely those whose answer `decide` changes, over
the whole question space (every action, data term, and source, purpose and recipient term or
none, facts omitted); before/after are the engine's own answers; a change is widened (narrowed)
exactly when some fact set is allowed by the new (old) policy and not by the other, as the
closed-world `decide` shows. And: a policy diffed with itself, or with itself plus declarations,
shows nothing; swapping the two swaps widened and narrowed.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from policy_engine.language import ast

from policy_engine.language import logic
from policy_engine.guard.diff import semantic_diff
from policy_engine.language.printer import format_condition
from policy_engine import Policy
from policy_engine.engine.loader import load_text

UNIVERSE: dict[str, list[str]] = {
    "data": ["d", "d.a", "e"],
    "source": ["s", "s.a", "t"],
    "purpose": ["p", "p.a", "q"],
    "recipient": ["r", "r.a"],
}
FACTS = ["f", "g", "h"]
DIMS = ("data", "source", "purpose", "recipient")


# ---- valid policies -------------------------------------------------------------------------


def _closed(ids: list[str]) -> list[str]:
    """Add every parent, keeping the universe's order."""
    need = set(ids)
    for i in ids:
        while "." in i:
            i = i.rsplit(".", 1)[0]
            need.add(i)
    return [i for kind in UNIVERSE.values() for i in kind if i in need]


@st.composite
def vocabularies(draw: st.DrawFn, full: bool = False) -> dict[str, list[str]]:
    if full:
        return {k: list(v) for k, v in UNIVERSE.items()}
    out = {}
    for kind, ids in UNIVERSE.items():
        picked = draw(st.lists(st.sampled_from(ids), min_size=1 if kind == "data" else 0, unique=True))
        out[kind] = _closed(picked)
    return out


def _cond_strategy() -> st.SearchStrategy[ast.Condition]:
    leaf = st.sampled_from(FACTS).map(lambda f: ast.FactRef(name=f))
    return st.recursive(leaf, lambda inner: st.one_of(
        inner.map(lambda c: ast.Not(operand=c)),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: ast.And(operands=tuple(ops))),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: ast.Or(operands=tuple(ops))),
    ), max_leaves=4)


conditions = _cond_strategy().filter(lambda c: logic.simplify(c) is not False)


@st.composite
def rule_texts(draw: st.DrawFn, vocab: dict[str, list[str]]) -> str:
    effect = draw(st.sampled_from(["allow", "allow", "deny"]))
    action = draw(st.sampled_from(ast.ACTIONS))
    data = "all data" if draw(st.integers(0, 5)) == 0 else ", ".join(
        draw(st.lists(st.sampled_from(vocab["data"]), min_size=1, max_size=2, unique=True)))
    text = f"{effect} {action} of {data}"
    for kind, word, most in (("source", "from", 2), ("purpose", "for", 2), ("recipient", "with", 1)):
        if vocab[kind]:
            picked = draw(st.lists(st.sampled_from(vocab[kind]), max_size=most, unique=True))
            if picked:
                text += f" {word} " + ", ".join(picked)
    if draw(st.booleans()):
        text += " if " + format_condition(draw(conditions))
    if draw(st.booleans()):
        text += " basis " + draw(st.sampled_from(["consent", "contract"]))
    return text


def policy_text(vocab: dict[str, list[str]], rules: list[str], extra: dict[str, list[str]] | None = None) -> str:
    lines = []
    for kind in DIMS:
        ids = list(vocab[kind]) + [i for i in (extra or {}).get(kind, []) if i not in vocab[kind]]
        lines += [f'{kind} {i} "{kind} {i}"' for i in _closed(ids) if i in UNIVERSE[kind]]
    lines += [f'fact {f} "{f}"' for f in FACTS]
    lines.append('section "Rules":')
    lines += ["  " + r for r in rules]
    return "\n".join(lines) + "\n"


@st.composite
def policy_pairs(draw: st.DrawFn, same_vocabulary: bool = True) -> tuple[str, str]:
    """Two policies: independent, or the second one edit away from the first."""
    v_old = draw(vocabularies(full=same_vocabulary))
    v_new = v_old if same_vocabulary else draw(vocabularies())
    old_rules = draw(st.lists(rule_texts(v_old), max_size=6))
    if same_vocabulary and old_rules and draw(st.booleans()):
        new_rules = list(old_rules)
        i = draw(st.integers(0, len(new_rules) - 1))
        edit = draw(st.sampled_from(["drop", "replace", "add"]))
        if edit == "drop":
            del new_rules[i]
        elif edit == "replace":
            new_rules[i] = draw(rule_texts(v_new))
        else:
            new_rules.insert(i, draw(rule_texts(v_new)))
    else:
        new_rules = draw(st.lists(rule_texts(v_new), max_size=6))
    return policy_text(v_old, old_rules), policy_text(v_new, new_rules)


# ---- the reference: decide, question by question ----------------------------------------------


def questions(vocab: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for action in ast.ACTIONS:
        need = ast.REQUIRED_DIMENSION.get(action)
        options = [vocab["data"]] + [vocab[k] + ([] if need == k else [None]) for k in DIMS[1:]]
        for combo in itertools.product(*options):
            out.append({"action": action, **dict(zip(DIMS, combo))})
    return out


@functools.lru_cache(maxsize=4096)
def requires_table(requires: str) -> int:
    return logic.truth_table(logic.parse_condition(requires), FACTS)


def table(loaded: Policy, q: dict[str, Any]) -> int:
    """The set of fact sets the policy allows the question under (facts omitted), as an int."""
    d = loaded.decide({**q, "facts": None})
    if d.decision == "allow":
        return logic.truth_table(True, FACTS)
    if d.decision == "deny":
        return 0
    assert d.requires is not None
    return requires_table(d.requires)


def closed_world_allows(loaded: Policy, q: dict[str, Any]) -> set[frozenset[str]]:
    out = set()
    for n in range(len(FACTS) + 1):
        for facts in itertools.combinations(FACTS, n):
            if loaded.decide({**q, "facts": list(facts)}).decision == "allow":
                out.add(frozenset(facts))
    return out


def union_vocab(a: Policy, b: Policy) -> dict[str, list[str]]:
    out = {}
    for kind in DIMS:
        ids = set(a.compiled.vocabulary.terms[kind]) | set(b.compiled.vocabulary.terms[kind])  # type: ignore[union-attr]
        out[kind] = [i for i in UNIVERSE[kind] if i in ids]
    return out


def key(q: dict[str, Any]) -> tuple[Any, ...]:
    return (q["action"], *(q[d] for d in DIMS))


def check_exact(old_text: str, new_text: str) -> None:
    old, new = load_text(old_text, "old.policy"), load_text(new_text, "new.policy")
    result = semantic_diff(old, new)
    vocab = union_vocab(old, new)
    # the reference asks each policy with the other's terms declared (a declaration alone changes nothing)
    ref_old = load_text(_with_terms(old_text, vocab), "old.policy")
    ref_new = load_text(_with_terms(new_text, vocab), "new.policy")
    listed = {key(c["query"]): c for c in result.changes()}
    assert len(listed) == sum(g.size() for g in result.groups), "a question is listed twice"
    expected = {}
    for q in questions(vocab):
        before, after = table(ref_old, q), table(ref_new, q)
        if before != after:
            expected[key(q)] = (q, before, after)
    assert set(listed) == set(expected), (
        f"missing: {sorted(set(expected) - set(listed))[:5]}, extra: {sorted(set(listed) - set(expected))[:5]}")
    for k, (q, before, after) in expected.items():
        change = listed[k]
        d_old = ref_old.decide({**q, "facts": None})
        d_new = ref_new.decide({**q, "facts": None})
        assert (change["before"], change["after"]) == (d_old.decision, d_new.decision)
        for text, got in ((change["before_requires"], d_old.requires), (change["after_requires"], d_new.requires)):
            if got is None:
                assert text is None
            else:
                assert text is not None and requires_table(text) == requires_table(got)
        assert change["widened"] == bool(after & ~before)
        assert change["narrowed"] == bool(before & ~after)
    # widened / narrowed against the closed world, on a few changed questions
    for k in list(expected)[:3]:
        q = expected[k][0]
        allowed_old, allowed_new = closed_world_allows(ref_old, q), closed_world_allows(ref_new, q)
        assert listed[k]["widened"] == bool(allowed_new - allowed_old)
        assert listed[k]["narrowed"] == bool(allowed_old - allowed_new)
    assert result.widened == sum(c["widened"] for c in listed.values())
    assert result.narrowed == sum(c["narrowed"] for c in listed.values())


def _with_terms(text: str, vocab: dict[str, list[str]]) -> str:
    head, rules = text.split('section "Rules":\n')
    declared = {line.split()[1] for line in head.splitlines() if line and line.split()[0] in DIMS}
    extra = [f'{kind} {i} "{kind} {i}"' for kind in DIMS for i in vocab[kind] if i not in declared]
    return head + "\n".join(extra) + ("\n" if extra else "") + 'section "Rules":\n' + rules


# ---- the laws ---------------------------------------------------------------------------------


@given(policy_pairs())
def test_diff_lists_exactly_the_questions_decide_answers_differently(pair: tuple[str, str]) -> None:
    check_exact(*pair)


@given(policy_pairs(same_vocabulary=False))
def test_diff_is_exact_across_different_vocabularies(pair: tuple[str, str]) -> None:
    check_exact(*pair)


@given(policy_pairs())
def test_swapping_the_policies_swaps_widened_and_narrowed(pair: tuple[str, str]) -> None:
    old, new = load_text(pair[0], "a.policy"), load_text(pair[1], "b.policy")
    there, back = semantic_diff(old, new), semantic_diff(new, old)
    assert (there.widened, there.narrowed) == (back.narrowed, back.widened)
    assert {key(c["query"]) for c in there.changes()} == {key(c["query"]) for c in back.changes()}


@given(policy_pairs(same_vocabulary=False))
def test_a_policy_has_no_diff_with_itself_nor_with_more_declarations(pair: tuple[str, str]) -> None:
    text = pair[0]
    loaded = load_text(text, "p.policy")
    assert not semantic_diff(loaded, loaded).groups
    more = load_text(_with_terms(text, UNIVERSE), "p.policy")
    assert not semantic_diff(loaded, more).groups
    assert not semantic_diff(more, loaded).groups
