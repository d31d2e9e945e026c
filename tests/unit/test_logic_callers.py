"""The guardrails' condition comparisons go through `logic`, so they are exact at any number
of facts: diff, invariants, lint and the test runner on a policy whose deny has 26 facts (a
truth table of 2**27 rows; the negation of the deny has 8,192 terms)."""

from __future__ import annotations

from policy_engine.engine.loader import load_text
from policy_engine.guard.diff import semantic_diff
from policy_engine.guard.invariants import check_invariants
from policy_engine.guard.lint import lint
from policy_engine.guard.testing import run_expectation

PAIRS = " or ".join(f"(a{i} and b{i})" for i in range(13))
VOCAB = ('data d "D"\npurpose p "P"\n' + "".join(f'fact a{i} "a{i}"\nfact b{i} "b{i}"\n' for i in range(13))
         + 'fact c "c"\n')


def load(body: str, path: str = "t.policy"):  # type: ignore[no-untyped-def]
    return load_text(VOCAB + 'section "S":\n  retention of all data: "a year"\n' + body, path)


def test_diff_sees_an_allow_inside_a_large_deny_as_no_change() -> None:
    old = load(f"  deny use of d for p if {PAIRS}\n")
    new = load(f"  deny use of d for p if {PAIRS}\n  allow use of d for p if a3 and b3 basis consent\n")
    assert semantic_diff(old, new).groups == []


def test_diff_finds_the_one_widened_fact_set_among_many_facts() -> None:
    old = load(f"  allow use of d for p if c basis consent\n  deny use of d for p if {PAIRS}\n")
    new = load(f"  allow use of d for p if c basis consent\n  deny use of d for p if {PAIRS.rsplit(' or ', 1)[0]}\n")
    result = semantic_diff(old, new)
    assert len(result.groups) == 1
    group = result.groups[0]
    assert (group.widened, group.narrowed) == (True, False)


def test_lint_shadowed_is_exact_with_many_facts() -> None:
    shadowed = [f.code for f in lint(load(f"  allow use of d for p if a5 and b5 basis consent\n"
                                          f"  deny use of d for p if {PAIRS}\n"))]
    assert "lint.shadowed_rule" in shadowed
    free = [f.code for f in lint(load(f"  allow use of d for p if c basis consent\n  deny use of d for p if {PAIRS}\n"))]
    assert free == []  # the deny narrows the allow by a condition of its own: an exception, no conflict


def test_lint_names_no_deny_that_does_not_exist() -> None:
    # no purpose is declared, so no `use` question exists: nothing overrides the allow
    policy = load_text('data d "D"\nsection "S":\n  allow use of all data\n', "one.policy")
    assert [f for f in lint(policy) if f.code == "lint.shadowed_rule"] == []


def test_invariant_unless_is_exact_with_many_facts() -> None:
    held = load(f"  allow use of d for p if c basis consent\n  deny use of d for p if {PAIRS}\n"
                "  no use of d unless c\n")
    assert [r.violations for r in check_invariants(held)] == [[]]
    broken = load(f"  allow use of d for p if c or a0 basis consent\n  deny use of d for p if {PAIRS}\n"
                  "  no use of d unless c\n")
    assert [len(r.violations) for r in check_invariants(broken)] == [1]


def test_expectation_requires_compares_values_with_many_facts() -> None:
    policy = load(f"  allow use of d for p basis consent\n  deny use of d for p if {PAIRS}\n"
                  f"  expect conditional: use of d for p requires not ({PAIRS})\n"
                  f"  expect conditional: use of d for p requires not ({PAIRS.rsplit(' or ', 1)[0]})\n")
    (section, right), (_, wrong) = policy.tree.expectations()
    assert run_expectation(policy, section, right).ok
    assert not run_expectation(policy, section, wrong).ok
