"""Lint: what is legal in the language but probably not what the author meant.
In: a loaded Policy (checked, compiled). Out: list[Finding] (a Diagnostic, plus the other
places a finding concerns), sorted by position.

  lint.shadowed_rule        an allow no question can ever get through: a deny always overrides it
  lint.duplicate_rule       a rule that says again what an earlier rule says
  lint.conflict             a deny that holds whenever an allow does, on flows both cover (the
                            contradiction classes of PolicyLint: the deny's data and recipient
                            are equal to, narrower or broader than the allow's); a deny with a
                            condition of its own (an opt-out) is an exception, not a conflict
  lint.empty_section        a section with no rule (nor right, retention, security or invariant)
                            and no comment in its body saying why
  lint.missing_basis        an allow to use or share data that names no legal basis (where the GDPR
                            may apply: not in a section whose `audience` names no EEA or UK resident)
  lint.consent_without_condition  basis consent, but no condition says when consent was given
  lint.missing_retention    data no retention statement covers
  lint.constant_condition   a condition that is always true or always false
  lint.purpose_on_collect   an allow to collect with `for PURPOSE`: it applies only to questions
                            naming that purpose, and a collect question needs only a source, so
                            asked as usual it is denied (fail closed): the purpose belongs on `use`

The checker's warnings (`check.*`, among them `check.unused_term`) come with the findings: a
term no statement uses has one definition (Checker.unused) and one code, reported once by
`check` and `lint` alike and once in an editor. `lint.unused_term`, the code lint used to have
for it, is kept as an alias of `check.unused_term` (ALIASES) for suppressions and configs.

Shadowing is exact: the allow's whole scope is walked in classes of questions (space.classes)
and the allow is effective somewhere iff its condition can hold while no matching deny's does.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from policy_engine.language import ast
from policy_engine.language import logic
from policy_engine.engine.compiler import CompiledRule, bits
from policy_engine.language.diagnostics import Diagnostic, Severity
from policy_engine.language.printer import format_condition
from policy_engine.language.source import Source, Span
from policy_engine.engine.space import DIMENSIONS, classes
from policy_engine.engine.policy import Policy

CODES: dict[str, str] = {
    "lint.shadowed_rule": "An allow rule that a deny always overrides: it never allows anything.",
    "lint.duplicate_rule": "A rule that repeats an earlier rule.",
    "lint.conflict": "A deny that holds whenever an allow does, on flows both cover.",
    "lint.empty_section": "A section without rules.",
    "lint.missing_basis": "An allow to use or share personal data without a legal basis.",
    "lint.consent_without_condition": "A rule with basis consent but no condition saying when consent was given.",
    "lint.missing_retention": "Data that no retention statement covers.",
    "lint.constant_condition": "A condition that is always true or always false.",
    "lint.purpose_on_collect": "An allow to collect that names a purpose: collect questions usually name none.",
}


# What SARIF and the docs say of each code lint can report: its own and the checker's warnings.
DESCRIPTIONS: dict[str, str] = {
    **CODES,
    "check.unused_term": "A declared term that no statement names (nor a narrower term).",
    "check.exception_outside_scope": "A promise excepts data that its scope does not cover.",
    "check.repeated_term": "A term listed twice in one statement.",
    "check.zero_duration": "A notice of changes of zero days.",
}

# Old codes that now mean another: accepted wherever a code is named (suppressions, config).
ALIASES: dict[str, str] = {"lint.unused_term": "check.unused_term"}

GDPR_FACTS = ("resident.eea", "resident.uk")  # the GDPR and the UK GDPR


def gdpr_audience(section: ast.Section) -> bool:
    """Whether the GDPR may apply to whom the section addresses: always, unless the section
    declares an `audience` that names no resident of the EEA or the UK (`resident.eea`,
    `resident.uk` or a fact under them). Legal bases are expected only where it may apply."""
    from policy_engine.language.checker import condition_facts

    audiences = [i for i in section.items if isinstance(i, ast.Audience)]
    if not audiences:
        return True
    return any(f.name == g or f.name.startswith(g + ".") for a in audiences
               for f in condition_facts(a.condition) for g in GDPR_FACTS)


@dataclass(frozen=True)
class Related:
    source: Source
    span: Span | None
    message: str

    @property
    def line(self) -> int | None:
        return self.source.position(self.span.start)[0] if self.span is not None else None


@dataclass(frozen=True)
class Finding:
    diagnostic: Diagnostic
    related: tuple[Related, ...] = ()

    @property
    def code(self) -> str:
        return self.diagnostic.code

    def render(self) -> str:
        text = self.diagnostic.render()
        for r in self.related:
            text += f"\n  note: {r.source.path}:{r.line}: {r.message}"
        return text

    def to_dict(self) -> dict[str, object]:
        out = self.diagnostic.to_dict()
        out["related"] = [{"file": r.source.path, "line": r.line, "message": r.message} for r in self.related]
        return out


def lint(loaded: Policy, completeness: bool = False) -> list[Finding]:
    """The lint findings and the checker's warnings, by position. `completeness`: add the GDPR
    Art. 13/14 findings (`art13.*`, guard.completeness)."""
    found = _Linter(loaded, completeness).run() + [Finding(w) for w in loaded.warnings]
    return sorted(found, key=lambda f: f.diagnostic.sort_key())


def _covers(broad: Sequence[str] | None, narrow: Sequence[str] | None) -> bool:
    """Whether every term under `narrow` lies under `broad` (None / empty: open, everything)."""
    if not broad:
        return True
    if not narrow:
        return False
    return all(any(n == b or n.startswith(b + ".") for b in broad) for n in narrow)


def _overlap(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    if not a or not b:
        return True
    return any(x == y or x.startswith(y + ".") or y.startswith(x + ".") for x in a for y in b)


def _relation(allow: Sequence[str] | None, deny: Sequence[str] | None) -> str:
    wide, narrow = _covers(deny, allow), _covers(allow, deny)
    if wide and narrow:
        return "equal"
    if narrow:
        return "narrower"
    if wide:
        return "broader"
    return "overlapping"


class _Linter:
    def __init__(self, loaded: Policy, completeness: bool = False):
        self.loaded = loaded
        self.completeness = completeness
        self.source = loaded.source
        self.cp = loaded.compiled
        self.ast_rules: list[tuple[ast.Section, ast.Rule]] = loaded.tree.rules()
        self.findings: list[Finding] = []
        self.shadowed_allows: set[int] = set()

    def add(self, code: str, message: str, span: Span | None, help: str | None = None,
            severity: Severity = Severity.WARNING, related: Sequence[Related] = ()) -> None:
        self.findings.append(Finding(Diagnostic(code, message, self.source, span, help, severity), tuple(related)))

    def span(self, rule: CompiledRule) -> Span | None:
        return self.ast_rules[rule.index][1].span

    def related(self, rule: CompiledRule, message: str) -> Related:
        return Related(self.source, self.span(rule), message)

    def run(self) -> list[Finding]:
        self.shadowed()
        self.duplicates()
        self.conflicts()
        self.empty_sections()
        self.bases()
        self.retention()
        self.constant_conditions()
        self.purpose_on_collect()
        if self.completeness:
            from policy_engine.guard import completeness

            self.findings += completeness.findings(self.loaded)
        return sorted(self.findings, key=lambda f: f.diagnostic.sort_key())

    # ---- rule against rule ----------------------------------------------------------------

    def shadowed(self) -> None:
        for rule in self.cp.rules:
            if rule.effect != "allow":
                continue
            scope = {dim: list(rule.terms(dim) or ()) for dim in DIMENSIONS if rule.terms(dim)}
            blockers: dict[int, CompiledRule] = {}
            effective = False
            for cls in classes([self.cp], rule.action, scope):
                denies = [self.cp.rules[i] for i in bits(cls.matches[0]) if self.cp.rules[i].effect == "deny"]
                conds = [d.condition for d in denies]
                if any(c is None for c in conds):
                    blockers.update((d.index, d) for d in denies if d.condition is None)
                    continue
                if not logic.implies_any(rule.condition, conds):
                    effective = True
                    break
                blockers.update((d.index, d) for d in denies)
            if effective or not blockers:
                continue  # no blockers: no question is in its scope at all, so no deny overrides it
            self.shadowed_allows.add(rule.index)
            related = [self.related(d, "this deny overrides it") for d in sorted(blockers.values(),
                                                                                 key=lambda d: d.index)]
            lines = ", ".join(str(d.line) for d in sorted(blockers.values(), key=lambda d: d.index))
            self.add("lint.shadowed_rule", "this allow never takes effect: a deny overrides it for every question "
                     f"it covers (line{'s' * (len(blockers) > 1)} {lines})", self.span(rule),
                     help="remove the allow, or narrow the deny that overrides it", severity=Severity.ERROR,
                     related=related)

    def duplicates(self) -> None:
        seen: dict[tuple[object, ...], CompiledRule] = {}
        for rule in self.cp.rules:
            cond = logic.simplify(rule.condition)
            key = (rule.effect, rule.action, None if rule.data is None else frozenset(rule.data),
                   frozenset(rule.sources), frozenset(rule.purposes), frozenset(rule.recipients), cond,
                   frozenset(rule.destinations), rule.safeguard)  # two safeguards for one transfer: both said
            first = seen.get(key)
            if first is None:
                seen[key] = rule
                continue
            extra = "" if first.basis == rule.basis else f" (only the basis differs: {first.basis} and {rule.basis})"
            self.add("lint.duplicate_rule", f"this rule says again what the rule on line {first.line} says{extra}",
                     self.span(rule), help="remove one of the two", related=[self.related(first, "the first rule")])

    def conflicts(self) -> None:
        """A deny that narrows an allow by a condition (`deny ... if opted_out` beside `allow ...`,
        or an allow `if not opted_out`) is how an exception is written, not a conflict. A deny
        conflicts with an allow when, on the flows the two share, it holds whenever the allow
        does (no condition difference): there it removes the allow entirely. A deny that removes
        the allow on its whole scope is `lint.shadowed_rule` (an error), not reported twice."""
        by_action: dict[str, tuple[list[CompiledRule], list[CompiledRule]]] = {}
        for rule in self.cp.rules:
            allows, denies = by_action.setdefault(rule.action, ([], []))
            (allows if rule.effect == "allow" else denies).append(rule)
        for allows, denies in by_action.values():
            for a, d in itertools.product(allows, denies):
                if a.index in self.shadowed_allows:
                    continue
                if not all(_overlap(a.terms(dim), d.terms(dim)) for dim in DIMENSIONS):
                    continue
                if not logic.all_hold([a.condition, d.condition]) or not logic.implies(a.condition, d.condition):
                    continue  # never together, or the deny is an exception under a condition of its own
                data = _relation(a.data, d.data)
                recipient = _relation(a.recipients, d.recipients)
                self.add("lint.conflict",
                         f"the deny on line {d.line} holds whenever this allow does, on the flows both cover "
                         f"(the deny's data is {data}, its recipient {recipient}): there this allow never "
                         "takes effect", self.span(a),
                         help="narrow the allow so it leaves out what the deny forbids, or give the deny the "
                         "condition that makes it an exception (like `if opted_out`)",
                         related=[self.related(d, "the deny that overrides it")])

    # ---- vocabulary and structure -----------------------------------------------------------

    def empty_sections(self) -> None:
        """A section with no statement but a comment in its body (`# not encodable: ...`) has been
        looked at: the comment says why nothing is encoded, which is what the help asks for."""
        from policy_engine.language.comments import scan_comments

        text = self.source.text
        starts = sorted(s.title_span.start for s in self.loaded.tree.sections if s.title_span is not None)
        indented = [c.span.start for c in scan_comments(text)
                    if text[text.rfind("\n", 0, c.span.start) + 1:c.span.start].isspace()]
        for section in self.loaded.tree.sections:
            if section.title_span is not None:
                end = next((s for s in starts if s > section.title_span.start), len(text))
                if any(section.title_span.end <= c < end for c in indented):
                    continue
            if not any(not isinstance(i, ast.Expectation) for i in section.items):
                self.add("lint.empty_section", f"section \"{section.title}\" has no rules", section.title_span,
                         help="encode what this part of the text says, or note in a comment why it cannot be")

    def bases(self) -> None:
        outside = {section.title for section in self.loaded.tree.sections if not gdpr_audience(section)}
        for rule in self.cp.rules:
            if rule.effect != "allow":
                continue
            if rule.basis is None and ast.base_action(rule.action) in ("use", "share") and rule.section not in outside:
                self.add("lint.missing_basis", f"this rule allows to {rule.action} personal data without a legal basis",
                         self.span(rule), help="add `basis consent`, `basis contract`, `basis legal_obligation`, "
                         "`basis legitimate_interests`, ... (GDPR Art. 6)")
            if rule.basis == "consent" and rule.condition is None:
                self.add("lint.consent_without_condition", "basis consent, but no condition says when consent was "
                         "given", self.span(rule), help="add `if FACT`, the fact that records the consent")

    def retention(self) -> None:
        covered: list[str] = []
        everything = False
        for section in self.loaded.tree.sections:
            for item in section.items:
                if isinstance(item, ast.Retention):
                    if item.data is None:
                        everything = True
                    else:
                        covered.extend(r.id for r in item.data)
        if everything:
            return
        for decl in self.loaded.tree.terms:
            if decl.kind == "data" and not any(decl.id == c or decl.id.startswith(c + ".") for c in covered):
                self.add("lint.missing_retention", f"no retention statement says how long `{decl.id}` is kept",
                         decl.id_span, help=f'add `retention of {decl.id}: "..."` with the period the text gives')

    def constant_conditions(self) -> None:
        for section, rule in self.ast_rules:
            if rule.condition is None:
                continue
            value = logic.simplify(rule.condition)
            if value is True:
                self.add("lint.constant_condition", f"this condition is always true: `{format_condition(rule.condition)}`",
                         rule.condition.span, help="drop the condition, or correct it")
            elif value is False:
                self.add("lint.constant_condition", "this condition is always false: the rule never applies",
                         rule.condition.span, help="correct the condition, or remove the rule",
                         severity=Severity.ERROR)

    def purpose_on_collect(self) -> None:
        for rule in self.cp.rules:
            if rule.effect == "allow" and ast.base_action(rule.action) == "collect" and rule.purposes:
                names = ", ".join(rule.purposes)
                self.add("lint.purpose_on_collect", f"this allow applies only to questions that name the purpose "
                         f"{names}; a question about collecting names a source and, as a rule, no purpose, so it "
                         "is denied", self.span(rule),
                         help=f"leave `for {names}` out of the collect rule and say what the data is used for in "
                         "an `allow use` rule (docs/language.md, \"A purpose on a collect rule\")")
