"""Which rules the tests exercise (`policy-engine test --coverage`). In: a Policy and the
expectations and invariants that ran. Out: a FileCoverage: for each rule, how many of them
exercise it, and per section the rules none does.

A rule is exercised by an expectation when it matches the expectation's question (docs/semantics.md,
"When a rule matches a question": it is one of the rules M the answer is computed from, so editing it can change what the
expectation sees), and by an invariant when it matches some question in the invariant's scope
(the invariant is checked over every one of them). A rule nothing exercises can be deleted or
changed without any test noticing: that is what the report is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_engine.engine.index import bits
from policy_engine.engine.policy import Policy
from policy_engine.engine.space import classes
from policy_engine.guard.invariants import scope_of
from policy_engine.language import ast


@dataclass
class RuleCoverage:
    file: str
    line: int
    section: str
    effect: str
    rule: str
    exercised_by: int = 0  # expectations and invariants

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FileCoverage:
    path: str
    rules: list[RuleCoverage] = field(default_factory=list)

    @property
    def covered(self) -> int:
        return sum(r.exercised_by > 0 for r in self.rules)

    @property
    def uncovered(self) -> list[RuleCoverage]:
        return [r for r in self.rules if not r.exercised_by]

    def sections(self) -> dict[str, list[RuleCoverage]]:
        out: dict[str, list[RuleCoverage]] = {}
        for r in self.rules:
            out.setdefault(r.section, []).append(r)
        return out

    def summary(self) -> str:
        n = len(self.rules)
        share = f" ({self.covered / n:.0%})" if n else ""
        return f"{self.covered} of {n} rule{'s' * (n != 1)} exercised{share}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "rules": len(self.rules), "covered": self.covered,
                "sections": [{"section": s, "rules": len(rs), "covered": sum(r.exercised_by > 0 for r in rs),
                              "not_exercised": [r.to_dict() for r in rs if not r.exercised_by]}
                             for s, rs in self.sections().items()]}


def _expectation_rules(policy: Policy, exp: ast.Expectation) -> int:
    q = exp.query
    index = policy.compiled.index
    assert index is not None
    return index.match(q.action, q.data.id, q.source.id if q.source else None, q.purpose.id if q.purpose else None,
                       q.recipient.id if q.recipient else None, q.destination.id if q.destination else None)


def _invariant_rules(policy: Policy, inv: ast.Invariant) -> int:
    exclude = {"data": [r.id for r in inv.exceptions]} if inv.exceptions else None
    matched = 0
    for cls in classes([policy.compiled], inv.action, scope_of(inv), exclude=exclude):
        matched |= cls.matches[0]
    return matched


def coverage(policy: Policy, expectations: Sequence[ast.Expectation],
             invariants: Sequence[ast.Invariant]) -> FileCoverage:
    rules = policy.compiled.rules
    out = FileCoverage(policy.source.path, [RuleCoverage(r.file, r.line, r.section, r.effect, r.text) for r in rules])
    for matched in [_expectation_rules(policy, e) for e in expectations] + \
                   [_invariant_rules(policy, i) for i in invariants]:
        for i in bits(matched):
            out.rules[i].exercised_by += 1
    return out


def render_text(cov: FileCoverage) -> list[str]:
    lines = [f"coverage: {cov.path}: {cov.summary()}"]
    for section, rs in cov.sections().items():
        missing = [r for r in rs if not r.exercised_by]
        if not missing:
            continue
        lines.append(f"  section \"{section}\": {len(rs) - len(missing)} of {len(rs)} exercised; not exercised:")
        for r in missing:
            lines.append(f"    {r.file}:{r.line}  {r.rule}")
    return lines
