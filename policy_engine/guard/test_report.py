"""The test runner's Report in words. In: testing.Report. Out: text (terminal), JSON (scripts),
JUnit XML (CI dashboards)."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from policy_engine.engine import words
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
        out.append(f"{f.path}: {f.passed} passed, {f.failed} failed")
    out.append(report.summary())
    return "\n".join(out)


def render_json(report: Report) -> str:
    return json.dumps({
        "files": [{"path": f.path, "passed": f.passed, "failed": f.failed,
                   "errors": [d.to_dict() for d in f.errors]} for f in report.files],
        "results": [c.to_dict() for f in report.files for c in f.results],
        "passed": report.passed,
        "failed": report.failed,
    }, indent=2)


def render_junit(report: Report) -> str:
    suites = ET.Element("testsuites", name="policy-engine test", tests=str(report.passed + report.failed),
                        failures=str(report.failed))
    for f in report.files:
        suite = ET.SubElement(suites, "testsuite", name=f.path, tests=str(f.passed + f.failed),
                              failures=str(f.failed), errors="0")
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


__all__ = ["render_case", "render_text", "render_json", "render_junit"]
