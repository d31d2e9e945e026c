"""Inline suppression: `# lint: ignore[CODE, ...] REASON`, beside a statement or on the line above.

In: a policy's Source and its lint findings. Out: the findings kept, the ones suppressed (each
with the comment that suppressed it), and findings about the comments themselves.

Like ruff's `# noqa: CODE` and eslint's `// eslint-disable-next-line rule -- reason`, a
suppression names the codes it silences, so a new kind of finding on the same line is still
shown; unlike them the reason is required, because the next reader of a privacy policy (a
lawyer, an auditor) needs to know why a warning was judged wrong. A comment at the end of a
line suppresses the findings whose place covers that line (any line of a statement written over
several lines); a comment alone on its line, those covering the next line of code (several such
comments may stand one above the other). A suppression that is malformed, names an unknown
code, gives no reason or suppresses nothing is itself reported, so stale ones do not pile up.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from policy_engine.guard.lint import Finding
from policy_engine.language.comments import scan_comments
from policy_engine.language.diagnostics import Diagnostic, Severity
from policy_engine.language.source import Source, Span

CODES: dict[str, str] = {
    "lint.bad_suppression": "A `# lint:` comment that is not `# lint: ignore[CODE] REASON`.",
    "lint.suppression_without_reason": "A suppression that does not say why the finding is wrong.",
    "lint.unknown_code": "A suppression of a code that policy-engine does not report.",
    "lint.unused_suppression": "A suppression that suppresses nothing.",
}

_DIRECTIVE = re.compile(r"#\s*lint\s*:(?P<rest>.*)$")
_IGNORE = re.compile(r"\s*ignore\s*\[(?P<codes>[^\]]*)\](?P<reason>.*)$")
_FORM = "write `# lint: ignore[lint.conflict] why this finding does not apply here`"


@dataclass
class Suppression:
    """One `# lint: ignore[...]` comment: the codes it names and the lines it covers."""

    span: Span
    codes: tuple[str, ...]
    reason: str
    target: int  # the line (1-based) of the statement it applies to
    used: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    reason: str


@dataclass
class Applied:
    kept: list[Finding]
    suppressed: list[Suppressed]


def scan(source: Source) -> tuple[list[Suppression], list[Finding]]:
    """The suppressions of a text, and findings about malformed ones."""
    text = source.text
    out: list[Suppression] = []
    problems: list[Finding] = []
    code_lines = _code_lines(source)
    for comment in scan_comments(text):
        found = _DIRECTIVE.match(comment.text)
        if found is None:
            continue
        form = _IGNORE.match(found.group("rest"))
        if form is None:
            problems.append(_finding(source, comment.span, "lint.bad_suppression",
                                     "this `# lint:` comment is not a suppression policy-engine can read", _FORM,
                                     Severity.ERROR))
            continue
        codes = tuple(c.strip() for c in form.group("codes").split(",") if c.strip())
        if not codes:
            problems.append(_finding(source, comment.span, "lint.bad_suppression",
                                     "this suppression names no code", _FORM, Severity.ERROR))
            continue
        line = source.position(comment.span.start)[0]
        trailing = text[text.rfind("\n", 0, comment.span.start) + 1:comment.span.start].strip() != ""
        if not trailing:  # the next line of code
            line += 1
            while line < len(code_lines) and not code_lines[line]:
                line += 1
        out.append(Suppression(comment.span, codes, form.group("reason").strip(), line))
    return out, problems


def apply(source: Source, findings: Sequence[Finding], known: Mapping[str, str], aliases: Mapping[str, str],
          ran: Iterable[str] = (), report: bool = True) -> Applied:
    """Drop the findings a suppression covers; report bad suppressions. `known`: every code that
    can be suppressed; `aliases`: old code -> code; `ran`: code prefixes whose checks ran this
    time (a suppression of `art13.*` is not unused when completeness was not asked for)."""
    suppressions, problems = scan(source)
    ran = tuple(ran)
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    for f in findings:
        lines = _lines(f.diagnostic)
        match = next((s for s in suppressions if s.target in lines
                      and any(aliases.get(c, c) == f.code for c in s.codes)), None)
        if match is None:
            kept.append(f)
            continue
        match.used.update(c for c in match.codes if aliases.get(c, c) == f.code)
        suppressed.append(Suppressed(f, match.reason))
    if not report:
        return Applied(kept, suppressed)
    for s in suppressions:
        if not s.reason:
            problems.append(_finding(source, s.span, "lint.suppression_without_reason",
                                     "this suppression does not say why the finding does not apply",
                                     "add the reason after the codes: `# lint: ignore[" + ", ".join(s.codes)
                                     + "] the statement asks for consent only in some jurisdictions`"))
        for code in s.codes:
            target = aliases.get(code, code)
            if target not in known:
                close = difflib.get_close_matches(code, list(known), n=1, cutoff=0.6)
                problems.append(_finding(source, s.span, "lint.unknown_code", f"`{code}` is not a code policy-engine "
                                         "reports, so this suppression suppresses nothing",
                                         (f"did you mean `{close[0]}`? " if close else "")
                                         + "the codes are listed by `policy-engine lint --codes`"))
            elif code not in s.used and any(target.startswith(p) for p in ran):
                problems.append(_finding(source, s.span, "lint.unused_suppression",
                                         f"nothing here is reported as `{code}`: this suppression is not needed",
                                         "remove it (or the code from its list)"))
    return Applied(kept + problems, suppressed)


def _finding(source: Source, span: Span, code: str, message: str, help: str,
             severity: Severity = Severity.WARNING) -> Finding:
    return Finding(Diagnostic(code, message, source, span, help, severity))


def _code_lines(source: Source) -> list[bool]:
    """Per line (index 0 unused): whether it holds more than layout and a comment."""
    return [False] + [bool(ln.strip()) and not ln.lstrip().startswith("#") for ln in source.text.split("\n")]


def _lines(d: Diagnostic) -> range:
    """The lines a finding's span covers (a rule over several lines: all of them)."""
    if d.source is None or d.span is None:
        return range(0)
    return range(d.source.position(d.span.start)[0], d.source.position(d.span.end)[0] + 1)


def with_severity(f: Finding, severity: Severity) -> Finding:
    return replace(f, diagnostic=replace(f.diagnostic, severity=severity))
