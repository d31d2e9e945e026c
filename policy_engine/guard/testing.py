"""The test runner behind `policy-engine test`. In: policy files. Out: a Report of every
expectation (`expect ...`) and every invariant (`never` / `every` / `no ...`); `test_report`
writes it as text, JSON or JUnit XML.

An expectation asks the engine its question (`Policy.decide`) and compares the decision; an
expected `requires` is compared as a condition (same truth under every fact set), not as text.
Invariants are checked over the whole question space (`invariants.py`). A file that does not
check counts as one failure, with its diagnostics.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from policy_engine.language import ast
from policy_engine.language import logic
from policy_engine.language.diagnostics import Diagnostic, PolicyError
from policy_engine.guard import expect_time
from policy_engine.guard.coverage import FileCoverage, coverage
from policy_engine.guard.invariants import InvariantResult, check_invariants
from policy_engine.language.printer import format_condition, format_invariant, format_item
from policy_engine.language.source import display_path
from policy_engine.engine.loader import load_path
from policy_engine.engine.policy import Policy


@dataclass
class CaseResult:
    kind: str  # expect | invariant
    file: str
    line: int
    section: str
    statement: str
    ok: bool
    query: dict[str, Any] | None = None
    wanted: str = ""
    actual: str = ""
    requires: str | None = None
    message: str = ""
    reasons: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class FileReport:
    path: str
    results: list[CaseResult] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    skipped: int = 0  # expectations and invariants `--run` left out
    coverage: FileCoverage | None = None  # with --coverage

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results) + (1 if self.errors else 0)


@dataclass
class Report:
    files: list[FileReport]

    @property
    def passed(self) -> int:
        return sum(f.passed for f in self.files)

    @property
    def failed(self) -> int:
        return sum(f.failed for f in self.files)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


# ---- running ------------------------------------------------------------------------------


def query_dict(q: ast.Query, timed: bool = False) -> dict[str, Any]:
    """The expectation's question as a query; with times (`given a 10 days ago`, `collected 10 days
    ago`) or for a policy with time limits, asked at the fixed instant `expect_time.AT`."""
    out = {"action": q.action, "data": q.data.id,
           "source": q.source.id if q.source else None,
           "purpose": q.purpose.id if q.purpose else None,
           "recipient": q.recipient.id if q.recipient else None,
           **({"destination": q.destination.id} if q.destination else {}),
           "facts": None if q.facts is None else [f.id for f in q.facts]}
    if timed or q.ages or q.collected is not None:
        out.update(expect_time.times(q))
    return out


def same_condition(a: logic.Requirement, b: logic.Requirement, loaded: Policy | None = None) -> bool:
    """Equal as conditions; with a policy, on the assignments closed under its implications."""
    care = None if loaded is None else loaded.compiled.vocabulary.care(logic.facts_of_all([a, b]))
    return logic.equivalent(logic.under(a, care), logic.under(b, care))


def run_expectation(loaded: Policy, section: ast.Section, exp: ast.Expectation) -> CaseResult:
    line = loaded.source.position(exp.span.start)[0] if exp.span is not None else 0
    query = query_dict(exp.query, loaded.compiled.vocabulary.timed or exp.lasting is not None)
    decision = loaded.decide(query)
    wanted = exp.decision + (f" for {exp.lasting.text()}" if exp.lasting is not None else "") \
        + (f", requires {format_condition(exp.requires)}" if exp.requires is not None else "")
    actual = decision.decision + (f", requires {decision.requires}" if decision.requires else "")
    ok = decision.decision == exp.decision
    message = ""
    if not ok:
        message = f"the policy answers {decision.decision}, the expectation wants {exp.decision}"
    elif exp.requires is not None and decision.requires is not None:
        ok = same_condition(exp.requires, loaded.requirement(query), loaded)
        if not ok:
            message = f"the condition differs: the policy requires {decision.requires}, the expectation wants " \
                      f"{format_condition(exp.requires)}"
    elif exp.lasting is not None:
        message = expect_time.lasting_mismatch(exp, decision)
        ok = not message
        actual += expect_time.lasting_text(decision)
    return CaseResult("expect", loaded.path, line, section.title, format_item(exp), ok, query, wanted, actual,
                      decision.requires, message, [r.model_dump(mode="json") for r in decision.reasons])


def invariant_case(result: InvariantResult) -> CaseResult:
    case = CaseResult("invariant", result.file, result.line, result.section, result.text, result.ok,
                      wanted=result.wanted)
    if result.ok:
        case.actual = f"holds for all {result.checked} questions in scope"
        return case
    first = result.violations[0]
    case.query = first.query
    case.actual = first.actual + (f", requires {first.requires}" if first.requires else "")
    case.requires = first.requires
    case.message = first.message
    case.reasons = first.reasons
    case.violations = [v.__dict__ for v in result.violations]
    if result.more:
        case.violations.append({"more": result.more})
    return case


def case_name(file: str, line: int, section: str, statement: str) -> str:
    """What `--run PATTERN` is searched in: `policies/open_e.policy:208 Marketing: no use of ...`."""
    return f"{file}:{line} {section}: {statement}"


def _line(loaded: Policy, node: ast.Expectation | ast.Invariant) -> int:
    return loaded.source.position(node.span.start)[0] if node.span is not None else 0


def run_file(path: str | os.PathLike[str], select: re.Pattern[str] | None = None,
             with_coverage: bool = False) -> FileReport:
    """Every expectation and invariant of the file (those whose case_name `select` finds, when
    given), and with `with_coverage` the rules they exercise."""
    shown = display_path(path)
    try:
        loaded = load_path(path)
    except PolicyError as err:
        return FileReport(shown, errors=err.diagnostics)
    report = FileReport(loaded.path)

    def chosen(section: ast.Section, node: ast.Expectation | ast.Invariant, text: str) -> bool:
        keep = select is None or bool(select.search(case_name(loaded.path, _line(loaded, node), section.title, text)))
        report.skipped += not keep
        return keep

    expectations = [(s, e) for s, e in loaded.tree.expectations() if chosen(s, e, format_item(e))]
    invariants = [(s, i) for s, i in loaded.tree.invariants() if chosen(s, i, format_invariant(i))]
    for section, exp in expectations:
        report.results.append(run_expectation(loaded, section, exp))
    if invariants:
        wanted = {id(i) for _, i in invariants}
        for inv in check_invariants(loaded):
            if id(inv.invariant) in wanted:
                report.results.append(invariant_case(inv))
    report.results.sort(key=lambda r: r.line)
    if with_coverage:
        report.coverage = coverage(loaded, [e for _, e in expectations], [i for _, i in invariants])
    return report


def run(paths: Iterable[str | os.PathLike[str]], select: re.Pattern[str] | None = None,
        with_coverage: bool = False) -> Report:
    return Report([run_file(p, select, with_coverage) for p in paths])


__all__ = ["CaseResult", "FileReport", "Report", "run", "run_file"]
