"""sarif.py: SARIF 2.1.0 for code scanning and GitHub Actions workflow commands (annotations),
from check diagnostics and lint findings."""

from __future__ import annotations

import json
import re

from policy_engine import __version__, api
from policy_engine.language.diagnostics import Diagnostic, Severity
from policy_engine.guard.lint import CODES, DESCRIPTIONS, Finding, lint
from policy_engine.guard.sarif import annotation, render_github, render_sarif, to_sarif
from policy_engine.language.source import Source, Span
from policy_engine.engine.loader import load_text

LINTED = """\
data email "E"
data phone "P"
purpose marketing "M"
fact newsletter_form "F"
section "S":
  allow use of email for marketing if newsletter_form basis consent
  deny use of email for marketing if newsletter_form
  allow use of email, phone for marketing basis legitimate_interests
  deny use of phone for marketing
"""
BROKEN = 'data email "E"\nsection "S":\n  allow use of emial basis consnt\n'


def lint_findings() -> list[Finding]:
    return lint(load_text(LINTED, "policies/l.policy"))


def check_diags() -> list[Diagnostic]:
    return list(api.check_text(BROKEN, "policies/b.policy").diagnostics)


# ---- SARIF -------------------------------------------------------------------------------------


def test_sarif_structure_for_lint_findings() -> None:
    items = lint_findings()
    codes = [f.code for f in items]
    assert {"lint.shadowed_rule", "lint.conflict", "lint.missing_retention"} <= set(codes)
    log = json.loads(render_sarif(items, DESCRIPTIONS))
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("policy-engine", __version__)
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == list(dict.fromkeys(codes))  # each code once, in order of first use
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] == DESCRIPTIONS[rule["id"]]
    assert len(run["results"]) == len(items)
    for result, item in zip(run["results"], items):
        assert result["ruleId"] == item.code
        assert rule_ids[result["ruleIndex"]] == item.code
        assert result["level"] == ("error" if item.diagnostic.severity is Severity.ERROR else "warning")
        assert result["message"]["text"].startswith(item.diagnostic.message)
        (loc,) = result["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"] == {"uri": "policies/l.policy", "uriBaseId": "%SRCROOT%"}
        region = phys["region"]
        assert (region["startLine"], region["startColumn"]) == (item.diagnostic.line, item.diagnostic.column)
        assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"] + 1)
    assert "%SRCROOT%" in run["originalUriBaseIds"]


def test_sarif_levels_and_related_locations() -> None:
    log = to_sarif(lint_findings(), DESCRIPTIONS)
    results = log["runs"][0]["results"]
    shadowed = next(r for r in results if r["ruleId"] == "lint.shadowed_rule")
    assert shadowed["level"] == "error"
    assert shadowed["locations"][0]["physicalLocation"]["region"]["startLine"] == 6
    (rel,) = shadowed["relatedLocations"]
    assert rel["id"] == 1 and rel["message"]["text"] == "this deny overrides it"
    assert rel["physicalLocation"] == {"artifactLocation": {"uri": "policies/l.policy", "uriBaseId": "%SRCROOT%"},
                                       "region": {"startLine": 7}}
    conflict = next(r for r in results if r["ruleId"] == "lint.conflict")
    assert conflict["level"] == "warning"
    assert conflict["locations"][0]["physicalLocation"]["region"]["startLine"] == 8
    assert conflict["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 9}
    retention = next(r for r in results if r["ruleId"] == "lint.missing_retention")
    assert "relatedLocations" not in retention


def test_sarif_for_check_diagnostics() -> None:
    diags = check_diags()
    log = to_sarif(diags)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["check.unused_term", "check.unknown_term", "check.unknown_basis"]
    regions = [r["locations"][0]["physicalLocation"]["region"] for r in results]
    assert [(g["startLine"], g["startColumn"]) for g in regions] == [(1, 6), (3, 16), (3, 28)]
    assert regions[1]["endColumn"] == 21  # `emial`
    assert [r["level"] for r in results] == ["warning", "error", "error"]
    assert "(help: did you mean `email`?)" in results[1]["message"]["text"]
    # without descriptions, a rule is described by its id
    assert [r["shortDescription"]["text"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == \
        ["check.unused_term", "check.unknown_term", "check.unknown_basis"]


def test_sarif_of_nothing_is_a_valid_empty_run() -> None:
    log = to_sarif([])
    assert log["version"] == "2.1.0"
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_without_a_file_or_position() -> None:
    d = Diagnostic("source.not_found", "no such file: x.policy", help="check the path")
    (result,) = to_sarif([d])["runs"][0]["results"]
    assert "locations" not in result and result["message"]["text"] == "no such file: x.policy (help: check the path)"
    at_file = Diagnostic("parse.empty", "empty", Source("", "a\\b.policy"), None)
    (result,) = to_sarif([at_file])["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "a/b.policy", "uriBaseId": "%SRCROOT%"}}  # no region, forward slashes


def region_of(d: Diagnostic) -> dict[str, int]:
    return to_sarif([d])["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]


def test_zero_width_span_gets_a_one_column_region() -> None:
    d = Diagnostic("parse.unexpected_token", "unexpected", Source("data x y", "e.policy"), Span(7, 7))
    assert region_of(d) == {"startLine": 1, "startColumn": 8, "endLine": 1, "endColumn": 9}
    # at the very end of the file there is no character to mark: an empty region (an insertion point)
    d = Diagnostic("parse.unexpected_end", "the file ends here", Source("data x", "e.policy"), Span(6, 6))
    assert region_of(d) == {"startLine": 1, "startColumn": 7, "endLine": 1, "endColumn": 7}


# ---- GitHub annotations -----------------------------------------------------------------------------

ANNOTATION = re.compile(r"^::(error|warning) file=([^,]+),line=(\d+),col=(\d+),endLine=(\d+),endColumn=(\d+),"
                        r"title=([^:,]+)::(.+)$")


def test_github_annotations_for_check_diagnostics() -> None:
    lines = render_github(check_diags()).splitlines()
    assert lines[1] == ("::error file=policies/b.policy,line=3,col=16,endLine=3,endColumn=21,"
                        "title=check.unknown_term::unknown data `emial`%0Ahelp: did you mean `email`?")
    parsed = [ANNOTATION.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(1), m.group(3), m.group(4), m.group(7)) for m in parsed if m] == [
        ("warning", "1", "6", "check.unused_term"), ("error", "3", "16", "check.unknown_term"),
        ("error", "3", "28", "check.unknown_basis")]


def test_github_annotations_for_lint_findings_mention_the_other_rule() -> None:
    lines = render_github(lint_findings()).splitlines()
    assert len(lines) == len(lint_findings())
    assert all(ANNOTATION.match(line) for line in lines), lines
    shadowed = next(line for line in lines if "title=lint.shadowed_rule" in line)
    assert shadowed.startswith("::error file=policies/l.policy,line=6,col=3,")
    assert "%0Asee policies/l.policy:7: this deny overrides it" in shadowed
    assert "\n" not in shadowed


def test_annotation_escaping() -> None:
    line = annotation("warning", "50% done\r\nnext", file="dir,x/a:b.policy", line=2, title="t:1,2")
    assert line == "::warning file=dir%2Cx/a%3Ab.policy,line=2,title=t%3A1%2C2::50%25 done%0D%0Anext"
    assert annotation("error", "plain") == "::error::plain"
    assert annotation("notice", "m", line=1, column=4) == "::notice line=1,col=4::m"


def test_github_of_nothing_is_empty() -> None:
    assert render_github([]) == ""


def test_rule_levels_follow_their_results_and_paths_are_uri_references() -> None:
    diags = list(api.check_text(BROKEN, "policies/my policy#2.policy").diagnostics)
    log = to_sarif(diags)
    (run,) = log["runs"]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]}
    assert levels["check.unknown_term"] == "error"
    assert all(levels[r["ruleId"]] == "error" for r in run["results"] if r["level"] == "error")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"policies/my%20policy%232.policy"}
    absolute = to_sarif(list(api.check_text(BROKEN, "/srv/policies/b.policy").diagnostics))
    location = absolute["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "file:///srv/policies/b.policy"}
