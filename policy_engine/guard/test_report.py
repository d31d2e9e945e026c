"""The test runner's Report in words. In: testing.Report. Out: text (terminal), JSON (scripts),
JUnit XML (CI dashboards); with --coverage, the rules no test exercises in each."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from policy_engine.engine import words
from policy_engine.guard.coverage import render_text as render_coverage
from policy_engine.guard.testing import CaseResult, Report
from policy_engine.language.diagnostics import render_text as render_diagnostics


def render_case(case: CaseResult) -> str:
    kind = "expectation" if case.kind == "expect" else "invariant"
    lines = [f"FAIL {case.file}:{case.line}: {kind} in section \"{case.section}\"", f"  {case.statement}"]
    if case.kind == "expect":
        lines += [f"  question: {words.question(case.query or {}, unknown=words.FACTS_UNKNOWN)}",
                  f"  wanted:   {case.wanted}",
                  f"  actual:   {case.actual}"]
        if case.message:
            lines.append(f"  why:      {case.message}")
        lines.append("  decided by:")
        lines += words.reason_lines(case.reasons, "    ")
        return "\n".join(lines)
    lines.append(f"  promise:  {case.wanted}")
    for i, v in enumerate(case.violations):
        if "more" in v:
            lines.append(f"  ... and {v['more']} more questions that break it")
            continue
        more = f" (and {v['questions'] - 1} more questions like it)" if v["questions"] > 1 else ""
        actual = v["actual"] + (f", requires {v['requires']}" if v.get("requires") else "")
        lines += (["  ---"] if i else []) + [f"  question: {words.question(v['query'], unknown=words.FACTS_UNKNOWN)}{more}",
                  f"  actual:   {actual}",
                  f"  broken:   {v['message']}"]
        if v.get("rule"):
            r = v["rule"]
            basis = f"basis {r['basis']}" if r.get("basis") else "no basis"
            lines += [f"  the rule: {r['file']}:{r['line']} (section \"{r['section']}\", {basis})",
                      f"            {r['rule']}"]
        lines.append("  decided by:")
        lines += words.reason_lines(v["reasons"], "    ")
    return "\n".join(line for line in lines if line is not None)


def render_text(report: Report, verbose: bool = False) -> str:
    out: list[str] = []
    for f in report.files:
        if f.errors:
            out.append(f"ERROR {f.path}: the policy does not check, so nothing in it was tested")
            out.append(render_diagnostics(f.errors))
            out.append("")
        for case in f.results:
            if not case.ok:
                out.append(render_case(case))
                out.append("")
            elif verbose:
                out.append(f"ok   {case.file}:{case.line}: {case.statement}")
        if verbose and f.results:
            out.append("")
    for f in report.files:
        if f.coverage is not None:
            out += render_coverage(f.coverage) + [""]
    for f in report.files:
        skipped = f", {f.skipped} not selected by --run" if f.skipped else ""
        out.append(f"{f.path}: {f.passed} passed, {f.failed} failed{skipped}")
    out.append(report.summary())
    return "\n".join(out)


def json_fields(report: Report) -> dict[str, Any]:
    """The test run's part of the JSON envelope (cli/common.py): `findings` are what failed (a
    file that does not check, as kind `check` with its diagnostics; each failing expectation or
    invariant), `results` every expectation and invariant run."""
    findings: list[dict[str, Any]] = []
    for f in report.files:
        if f.errors:
            findings.append({"kind": "check", "file": f.path, "ok": False,
                             "message": "the policy does not check, so nothing in it was tested",
                             "diagnostics": [d.to_dict() for d in f.errors]})
        findings += [c.to_dict() for c in f.results if not c.ok]
    return {
        "findings": findings,
        "files": [{"path": f.path, "passed": f.passed, "failed": f.failed, "skipped": f.skipped,
                   "errors": [d.to_dict() for d in f.errors],
                   **({"coverage": f.coverage.to_dict()} if f.coverage is not None else {})} for f in report.files],
        "results": [c.to_dict() for f in report.files for c in f.results],
        "passed": report.passed,
        "failed": report.failed,
    }


def render_junit(report: Report) -> str:
    suites = ET.Element("testsuites", name="policy-engine test", tests=str(report.passed + report.failed),
                        failures=str(report.failed))
    for f in report.files:
        suite = ET.SubElement(suites, "testsuite", name=f.path, tests=str(f.passed + f.failed),
                              failures=str(f.failed), errors="0", skipped=str(f.skipped))
        if f.coverage is not None:  # JUnit has no coverage element: properties, and the list as output
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="rules", value=str(len(f.coverage.rules)))
            ET.SubElement(props, "property", name="rules_exercised", value=str(f.coverage.covered))
            ET.SubElement(suite, "system-out").text = "\n".join(render_coverage(f.coverage))
        if f.errors:
            case = ET.SubElement(suite, "testcase", classname=f.path, name="check")
            failure = ET.SubElement(case, "failure", message="the policy does not check")
            failure.text = render_diagnostics(f.errors)
        for c in f.results:
            case = ET.SubElement(suite, "testcase", classname=f.path, name=f"line {c.line}: {c.statement}")
            case.set("file", c.file)
            case.set("line", str(c.line))
            if not c.ok:
                failure = ET.SubElement(case, "failure", message=c.message or f"wanted {c.wanted}, got {c.actual}")
                failure.text = render_case(c)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


__all__ = ["render_case", "render_text", "json_fields", "render_junit"]
