"""Invariants, checked over the whole question space. In: a loaded Policy. Out: one
InvariantResult per `never` / `every` / `no` statement, with the questions that break it.

The scope of an invariant is every question with its action whose terms lie under the terms it
names (a dimension it leaves open takes every term, or none where the action allows it), facts
omitted: the answer with facts omitted fixes the answer under every fact set. The space is
walked in classes of questions that match the same rules (`space.classes`), and a class's
answer is `logic.requirement` over its matching rules, as the engine computes it.

  never A ...                  every question in scope is denied under every fact set.
  no A ... except D1, D2       the same, for the questions on data outside D1, D2.
  every A ... has basis B      every allow rule that can grant a question in scope (its condition
                               can hold while no matching deny's does) has basis B.
  no A ... without B           (B a legal basis) no question in scope is allowed unconditionally,
                               and every allow rule that can grant one has a condition and basis B.
  no A ... without F           (F a fact) no fact set without F allows a question in scope.
  no A ... except under S1, S2 every allow rule that can grant a question in scope relies on the
                               safeguard S1 or S2 (or a narrower one): a transfer to the
                               destination in scope under any other safeguard, or under none
                               (a rule open on destination), breaks it.

An invariant that no question falls under (all its terms excluded) holds vacuously.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policy_engine.language import ast
from policy_engine.language import logic
from policy_engine.engine.compiler import CompiledPolicy, CompiledRule, bits
from policy_engine.language.printer import format_condition, format_invariant
from policy_engine.engine.space import QuestionClass, classes
from policy_engine.engine.transfers import safeguard_problem
from policy_engine.engine.policy import Policy

MAX_EXAMPLES = 5  # failing question classes reported per invariant


@dataclass
class Violation:
    """One class of questions that breaks the invariant, shown by its first question."""

    query: dict[str, Any]
    questions: int  # how many questions of the space the class holds
    actual: str  # the decision with facts omitted
    requires: str | None
    message: str
    reasons: list[dict[str, Any]] = field(default_factory=list)
    rule: dict[str, Any] | None = None  # the offending rule, for `every` / `without BASIS`


@dataclass
class InvariantResult:
    invariant: ast.Invariant
    text: str
    file: str
    line: int
    section: str
    violations: list[Violation] = field(default_factory=list)
    checked: int = 0  # questions in scope
    more: int = 0  # failing questions beyond the MAX_EXAMPLES classes shown

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def wanted(self) -> str:
        """The promise in words."""
        inv = self.invariant
        if inv.form == "never":
            return "never allowed, whatever facts hold"
        if inv.safeguards:
            return "every rule that allows it relies on " + " or ".join(r.id for r in inv.safeguards)
        if inv.exceptions:
            return "never allowed for data other than " + ", ".join(r.id for r in inv.exceptions) + \
                ", whatever facts hold"
        if inv.form == "every":
            return f"every rule that allows it has basis {inv.basis.id if inv.basis else '?'}"
        if inv.unless is not None:
            return f"allowed only when {format_condition(inv.unless)} holds"
        assert inv.without is not None
        if inv.without.id in ast.LEGAL_BASES:
            return f"never allowed without a condition; every rule that allows it has a condition and basis " \
                   f"{inv.without.id}"
        return f"allowed only when {inv.without.id} holds"


def scope_of(inv: ast.Invariant) -> dict[str, list[str]]:
    scope: dict[str, list[str]] = {}
    if inv.data is not None:
        scope["data"] = [r.id for r in inv.data]
    for dim, refs in (("source", inv.sources), ("purpose", inv.purposes), ("recipient", inv.recipients),
                      ("destination", inv.destinations)):
        if refs:
            scope[dim] = [r.id for r in refs]
    return scope


def check_invariants(loaded: Policy) -> list[InvariantResult]:
    out = []
    for section, inv in loaded.tree.invariants():
        line = loaded.source.position(inv.span.start)[0] if inv.span is not None else 0
        result = InvariantResult(inv, format_invariant(inv), loaded.path, line, section.title)
        _Checker(loaded, inv, result).run()
        out.append(result)
    return out


class _Checker:
    def __init__(self, loaded: Policy, inv: ast.Invariant, result: InvariantResult):
        self.loaded = loaded
        self.cp: CompiledPolicy = loaded.compiled
        self.inv = inv
        self.result = result
        self.blamed: set[int] = set()

    def run(self) -> None:
        inv = self.inv
        exclude = {"data": [r.id for r in inv.exceptions]} if inv.exceptions else None
        for cls in classes([self.cp], inv.action, scope_of(inv), exclude=exclude):
            self.result.checked += cls.size()
            self.check(cls)

    def split(self, match: int) -> tuple[list[CompiledRule], list[CompiledRule]]:
        allows, denies = [], []
        for i in bits(match):
            rule = self.cp.rules[i]
            (allows if rule.effect == "allow" else denies).append(rule)
        return allows, denies

    def check(self, cls: QuestionClass) -> None:
        inv = self.inv
        allows, denies = self.split(cls.matches[0])
        # over assignments closed under implication (facts that imply facts), as the engine decides
        care = self.cp.vocabulary.care(logic.facts_of_all([*(r.condition for r in allows),
                                                             *(r.condition for r in denies), inv.unless]))
        req = logic.requirement([r.condition for r in allows], [r.condition for r in denies], care=care)
        if inv.form == "never" or inv.exceptions:
            if req is not False:
                self.violate(cls, req, "this question can be allowed")
            return
        if inv.safeguards:
            wanted = [r.id for r in inv.safeguards]
            for rule in self.granting(allows, denies):
                problem = None if rule.index in self.blamed else safeguard_problem(rule, wanted)
                if problem is not None:
                    self.violate(cls, req, problem, rule)
            return
        basis = inv.basis.id if inv.basis is not None else None
        without = inv.without.id if inv.without is not None else None
        needed: ast.Condition | None = inv.unless
        if without is not None and without not in ast.LEGAL_BASES:
            needed = ast.FactRef(name=without)
        if needed is not None:
            if not logic.implies(logic.under(req, care), needed):
                self.violate(cls, req, f"this question can be allowed when `{format_condition(needed)}` "
                             "does not hold")
            return
        if without is not None:
            basis = without
            if req is True:
                self.violate(cls, req, f"this question is allowed unconditionally, without {without}")
        for rule in self.granting(allows, denies):
            if rule.index in self.blamed:
                continue
            if rule.basis != basis:
                have = f"basis {rule.basis}" if rule.basis else "no basis"
                self.violate(cls, req, f"a rule that allows it has {have}, not basis {basis}", rule)
            elif without is not None and rule.condition is None:
                self.violate(cls, req, f"a rule that allows it has basis {basis} but no condition", rule)

    @staticmethod
    def granting(allows: list[CompiledRule], denies: list[CompiledRule]) -> list[CompiledRule]:
        """The allows whose condition can hold while no matching deny's condition does."""
        out = []
        deny_conds = [d.condition for d in denies]
        if any(c is None for c in deny_conds):
            return []
        for rule in allows:
            if not logic.implies_any(rule.condition, deny_conds):
                out.append(rule)
        return out

    def violate(self, cls: QuestionClass, req: logic.Requirement, message: str,
                rule: CompiledRule | None = None) -> None:
        if rule is not None:
            self.blamed.add(rule.index)
        if len(self.result.violations) >= MAX_EXAMPLES and rule is None:
            self.result.more += cls.size()
            return
        query = {**cls.representative(), "facts": None}
        decision = self.loaded.decide(query)
        self.result.violations.append(Violation(
            query=query,
            questions=cls.size(),
            actual=decision.decision,
            requires=decision.requires,
            message=message,
            reasons=[r.model_dump(mode="json") for r in decision.reasons],
            rule=None if rule is None else {"rule": rule.text, "file": rule.file, "line": rule.line,
                                            "section": rule.section, "basis": rule.basis,
                                            **({"safeguard": rule.safeguard} if rule.safeguard else {})},
        ))
