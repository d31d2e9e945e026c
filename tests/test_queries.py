"""Golden queries: tests/cases/queries/<topic>.yaml, each case a query with its expected answer.

    - name: ...
      query: {action: use, data: email, source: contact, purpose: marketing}
      want_decision: conditional                       # allow | deny | conditional
      want_requires: newsletter_form or notification_settings        (conditional only)
      want_would_allow_if: ...                         (a closed-world deny some allow would lift)
      want_until / want_from: RFC 3339                 (an allow a time limit ends / a deny it lifts)
      want_rules: [<rule as printed on one line>, ...] (exactly the rules cited, in any order)
    or
      want_error: {code: query.unknown_term, field: purpose, suggestions_include: [marketing]}

The policy's own `expect` statements are answered by the engine too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import policy_engine
from policy_engine import QueryError
from policy_engine.language import logic

from paths import CASES as CASE_DIR, OPEN_E, REPO

CASES = sorted((CASE_DIR / "queries").glob("*.yaml"))


def _load_cases() -> list:  # type: ignore[type-arg]
    out = []
    for path in CASES:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for index, case in enumerate(spec["cases"]):
            out.append(pytest.param(spec["policy"], case, id=f"{path.stem}[{index}] {case['name']}"))
    return out


_POLICIES: dict[str, policy_engine.Policy] = {}


def _policy(rel: str) -> policy_engine.Policy:
    if rel not in _POLICIES:
        _POLICIES[rel] = policy_engine.load(REPO / rel)
    return _POLICIES[rel]


@pytest.mark.parametrize("policy_path, case", _load_cases())
def test_golden_query(policy_path: str, case: dict) -> None:  # type: ignore[type-arg]
    policy = _policy(policy_path)
    if "want_error" in case:
        want = case["want_error"]
        with pytest.raises(QueryError) as info:
            policy.decide(case["query"])
        assert info.value.code == want["code"]
        assert info.value.field == want.get("field")
        assert set(want.get("suggestions_include", [])) <= set(info.value.suggestions)
        return
    got = policy.decide(case["query"])
    assert got.decision == case["want_decision"]
    assert got.requires == case.get("want_requires")
    assert got.would_allow_if == case.get("want_would_allow_if")
    assert got.until == case.get("want_until")
    assert got.from_ == case.get("want_from")
    assert sorted(r.rule for r in got.reasons) == sorted(case["want_rules"])
    for reason in got.reasons:
        assert reason.file.endswith(Path(policy_path).name) and reason.line > 0 and reason.section
    assert got.policy.digest == policy.digest and got.policy.name == policy.name


def _expectations() -> list:  # type: ignore[type-arg]
    path = OPEN_E
    if not path.exists():
        return []
    from policy_engine.api import check_file
    from policy_engine.language.printer import format_query

    result = check_file(path)
    if result.policy is None:
        return []
    return [pytest.param(exp, id=f"expect {exp.decision}: {format_query(exp.query)}")
            for _, exp in result.policy.expectations()]


@pytest.mark.parametrize("exp", _expectations())
def test_open_e_expectations_hold(exp) -> None:  # type: ignore[no-untyped-def]
    policy = _policy("policies/open_e.policy")
    q = exp.query
    query = {"action": q.action, "data": q.data.id}
    for name in ("source", "purpose", "recipient"):
        ref = getattr(q, name)
        if ref is not None:
            query[name] = ref.id
    if q.facts is not None:
        query["facts"] = [f.id for f in q.facts]  # type: ignore[assignment]
    got = policy.decide(query)
    assert got.decision == exp.decision
    if exp.requires is not None:
        facts = sorted(logic.facts_of(exp.requires) | logic.facts_of(logic.parse_condition(got.requires)))
        assert logic.truth_table(exp.requires, facts) == logic.truth_table(logic.parse_condition(got.requires),
                                                                             facts)


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 4 and len(_load_cases()) >= 30
