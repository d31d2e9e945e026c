"""One policy text, analysed for an editor. In: Source. Out: Analysis (diagnostics, declarations,
references, fixes, the kind of term a position needs).

Everything here is plain Python over the checker's own results, so the language server and the
playground show exactly what `policy-engine check` prints: same codes, same spans, same fixes.
No editor protocol lives here (that is `server.py`), which keeps it testable without a client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from policy_engine import api
from policy_engine.language import ast
from policy_engine.language.checker import condition_facts, suggest
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.source import Source, Span

# The diagnostics whose fix is "use the close declared word instead" (the checker's did-you-mean).
FIXABLE = ("check.unknown_term", "check.unknown_fact", "check.wrong_kind", "check.unknown_basis",
           "check.unknown_right")


@dataclass(frozen=True)
class Reference:
    """A term id where it is used: its kind is the one the position requires."""

    kind: str  # data | source | purpose | recipient | fact | basis | right | region | safeguard
    id: str
    span: Span


@dataclass(frozen=True)
class Fix:
    """Replace `span` by `new_text`: the checker's suggestion for the diagnostic `code`."""

    code: str
    span: Span
    old_text: str
    new_text: str

    @property
    def title(self) -> str:
        return f"Change `{self.old_text}` to `{self.new_text}`"


@dataclass
class Analysis:
    source: Source
    policy: ast.PolicyFile | None
    diagnostics: list[Diagnostic]
    declarations: dict[tuple[str, str], ast.TermDecl] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)

    @property
    def parsed(self) -> bool:
        return self.policy is not None

    def ids(self, kind: str) -> list[str]:
        if kind == "basis":
            return list(ast.LEGAL_BASES)
        if kind == "right":
            return list(ast.RIGHTS)
        if kind == "requirement":  # `without X`: a legal basis or a fact
            return [*ast.LEGAL_BASES, *self.ids("fact")]
        return sorted(i for (k, i) in self.declarations if k == kind)

    def at(self, offset: int) -> tuple[str, str, Span] | None:
        """(kind, id, span) of the declared or used term id under `offset`, if any."""
        for (kind, term_id), decl in self.declarations.items():
            if decl.id_span and decl.id_span.start <= offset <= decl.id_span.end:
                return kind, term_id, decl.id_span
        for ref in self.references:
            if ref.span.start <= offset <= ref.span.end:
                return ref.kind, ref.id, ref.span
        return None

    def uses(self, kind: str, term_id: str) -> list[Reference]:
        return [r for r in self.references if r.kind == kind and r.id == term_id]

    def fixes(self, diagnostic: Diagnostic) -> list[Fix]:
        """The did-you-mean replacements for a diagnostic (none for any other code)."""
        if diagnostic.code not in FIXABLE or diagnostic.span is None:
            return []
        span = diagnostic.span
        ref = next((r for r in self.references if r.span == span), None)
        if ref is None:
            return []
        return [Fix(diagnostic.code, span, ref.id, new) for new in suggest(ref.id, self.ids(ref.kind)) if new != ref.id]


# Findings about suppressions themselves are fixed by editing the comment, not suppressed.
_NOT_SUPPRESSIBLE = ("lint.bad_suppression", "lint.suppression_without_reason", "lint.unknown_code",
                     "lint.unused_suppression", "lint.config_error")


def suppression_edit(source: Source, d: Diagnostic) -> tuple[Span, str] | None:
    """Where to write `# lint: ignore[CODE] ` for a warning or lint finding, and the text: at the
    end of its first line, or on a line of its own above it when that line has a comment. The
    reason is left for the writer to give (until then, lint asks for it)."""
    if d.span is None or d.code in _NOT_SUPPRESSIBLE or (d.is_error and not d.code.startswith("lint.")):
        return None
    from policy_engine.language.comments import scan_comments

    text = source.text
    start = text.rfind("\n", 0, d.span.start) + 1
    end = text.find("\n", d.span.start)
    end = len(text) if end < 0 else end
    comment = f"# lint: ignore[{d.code}] "
    if any(start <= c.span.start < end for c in scan_comments(text)):
        line = text[start:end]
        return Span(start, start), line[:len(line) - len(line.lstrip())] + comment + "\n"
    return Span(end, end), "  " + comment


def analyse(source: Source, lint: bool = False) -> Analysis:
    """`lint`: when the text checks, show the lint findings too (the editor's view of
    `policy-engine lint`: the same configuration and inline suppressions)."""
    result = api.check_source(source)
    out = Analysis(source, result.policy, list(result.diagnostics))
    if lint and result.ok:
        out.diagnostics = [d for d in out.diagnostics if d.is_error] + _lint(result)
    if result.policy is None:
        return out
    for decl in result.policy.terms:
        out.declarations.setdefault((decl.kind, decl.id), decl)
    out.references = sorted(_references(result.policy, out.declarations), key=lambda r: r.span.start)
    return out


def _lint(result: api.CheckResult) -> list[Diagnostic]:
    """The lint run of a checked text, with the configuration that applies to its file (none
    for an unsaved one); a configuration that cannot be read is shown on the first line."""
    from pathlib import Path

    from policy_engine.guard import lint_config, lint_run

    assert result.source is not None
    config, problem = lint_config.LintConfig(), []
    if Path(result.source.path).is_file():
        try:
            config = lint_config.for_file(result.source.path, lint_run.KNOWN)
        except lint_config.ConfigError as err:
            problem = [Diagnostic("lint.config_error", str(err), result.source, None,
                                  "correct the configuration file")]
    return problem + [f.diagnostic for f in lint_run.run(result, config).findings]


def analyse_text(text: str, path: str = "<string>") -> Analysis:
    return analyse(Source(text, path))


def _refs(kind: str, refs: tuple[ast.TermRef, ...] | None) -> Iterator[Reference]:
    for ref in refs or ():
        if ref.span is not None:
            yield Reference(kind, ref.id, ref.span)


def _facts(cond: ast.Condition | None) -> Iterator[Reference]:
    if cond is None:
        return
    for fact in condition_facts(cond):
        if fact.span is not None:
            yield Reference("fact", fact.name, fact.span)


def _one(kind: str, ref: ast.TermRef | None) -> Iterator[Reference]:
    if ref is not None and ref.span is not None:
        yield Reference(kind, ref.id, ref.span)


def _references(policy: ast.PolicyFile, declared: dict[tuple[str, str], ast.TermDecl]) -> Iterator[Reference]:
    """Every use of a term id in the statements, with the kind its position requires."""
    for section in policy.sections:
        for item in section.items:
            if isinstance(item, ast.Rule):
                yield from _refs("data", item.data)
                yield from _refs("source", item.sources)
                yield from _refs("purpose", item.purposes)
                yield from _refs("recipient", item.recipients)
                yield from _refs("region", item.destinations)
                yield from _one("safeguard", item.safeguard)
                yield from _facts(item.condition)
                yield from _one("basis", item.basis)
            elif isinstance(item, ast.Expectation):
                q = item.query
                yield from _one("data", q.data)
                yield from _one("source", q.source)
                yield from _one("purpose", q.purpose)
                yield from _one("recipient", q.recipient)
                yield from _one("region", q.destination)
                yield from _refs("fact", q.facts)
                yield from _facts(item.requires)
            elif isinstance(item, ast.Retention):
                yield from _refs("data", item.data)
            elif isinstance(item, ast.Right):
                yield from _one("right", item.right)
            elif isinstance(item, ast.Invariant):
                yield from _refs("data", item.data)
                yield from _refs("source", item.sources)
                yield from _refs("purpose", item.purposes)
                yield from _refs("recipient", item.recipients)
                yield from _refs("data", item.exceptions)
                yield from _refs("region", item.destinations)
                yield from _refs("safeguard", item.safeguards)
                yield from _one("basis", item.basis)
                if item.without is not None:
                    is_fact = ("fact", item.without.id) in declared
                    yield from _one("fact" if is_fact else "basis", item.without)
                yield from _facts(item.unless)


# ---- what kind of term a position needs (for completion, on text that may not parse) ----------

_WORD = re.compile(r'"(?:\\.|[^"\\\n])*"?|#[^\n]*|[A-Za-z_][\w.]*|[,:()]|\S')
# The keyword that decides what kind of term follows it (a comma keeps the list going).
_KIND_AFTER = {
    "of": "data", "except": "data", "collect": "data", "use": "data", "share": "data", "retain": "data",
    "from": "source", "for": "purpose", "with": "recipient", "to": "recipient",
    "if": "fact", "given": "fact", "requires": "fact", "unless": "fact",
    "and": "fact", "or": "fact", "not": "fact", "(": "fact",
    "basis": "basis", "right": "right", "without": "basis",
    "in": "region", "under": "safeguard",  # a transfer: `in region.us under standard_contractual_clauses`
}


def completion_context(text: str, offset: int) -> tuple[str | None, int]:
    """(kind of term the position needs or None, offset where the word being typed starts).

    Reads the words before `offset` (comments skipped), since text being typed rarely parses:
    the keyword before the word being typed decides (`for` -> purpose), also across a list
    typed so far (`of email, name, `). After an id, a text or a declaration's kind nothing is
    asked for: a declaration's id is new."""
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."):
        start -= 1
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].lstrip().startswith("#"):
        return None, start
    words = [m.group(0) for m in _WORD.finditer(text, 0, start)]
    words = [w for w in words if not w.startswith("#")]
    i = len(words) - 1
    while i >= 1 and words[i] == "," and _is_id(words[i - 1]):
        i -= 2  # back over the list typed so far: `of email, name, |`
    if i < 0 or words[i] not in _KIND_AFTER:
        return None, start
    kind = _KIND_AFTER[words[i]]
    return ("requirement" if kind == "basis" and words[i] == "without" else kind), start


def _is_id(word: str) -> bool:
    return (word[:1].isalpha() or word[:1] == "_") and word not in _KIND_AFTER
