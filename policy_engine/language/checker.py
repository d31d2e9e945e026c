"""AST -> diagnostics. In: ast.PolicyFile (+ its Source). Out: list[Diagnostic], sorted.

Pure and total: collects every fault it finds and never raises. What it guarantees is what
the compiler relies on: every term a rule or expectation names is declared with the kind
its position requires, every parent of a dotted id is declared, every condition can hold and is small enough to
decide within bounded work (`logic`, exact at any number of facts).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from policy_engine.language import ast, check_extensions, check_time, check_transfers, logic, timelimits
from policy_engine.language.diagnostics import Diagnostic, Severity, sort_diagnostics
from policy_engine.language.source import Source, Span

# The position a term stands in, and the kind of term that belongs there.
DIMENSION_KIND = {"data": "data", "source": "source", "purpose": "purpose", "recipient": "recipient", "fact": "fact",
                  "destination": "region"}

ARTICLE = {"data": "data", "source": "a source", "purpose": "a purpose", "recipient": "a recipient", "fact": "a fact",
           "region": "a region", "safeguard": "a safeguard", "action": "an action"}


def condition_facts(cond: ast.Condition) -> Iterator[ast.FactRef]:
    if isinstance(cond, ast.FactRef):
        yield cond
    elif isinstance(cond, ast.Not):
        yield from condition_facts(cond.operand)
    else:
        for operand in cond.operands:
            yield from condition_facts(operand)


def suggest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, sorted(set(candidates)), n=n, cutoff=0.6)


def _did_you_mean(options: list[str]) -> str:
    return "did you mean " + " or ".join(f"`{o}`" for o in options) + "?"


class Checker:
    def __init__(self, policy: ast.PolicyFile, source: Source):
        self.policy = policy
        self.source = source
        self.diags: list[Diagnostic] = []
        self.declared: dict[tuple[str, str], ast.TermDecl] = {}
        self.kinds_of: dict[str, set[str]] = {}
        self.used: set[tuple[str, str]] = set()

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, self.source, span, help))

    def warning(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, self.source, span, help, Severity.WARNING))

    def run(self) -> list[Diagnostic]:
        self.declarations()
        for section in self.policy.sections:
            for item in section.items:
                getattr(self, "check_" + item.kind)(item)
        self.complexity()
        self.unused()
        return sort_diagnostics(self.diags)

    # ---- declarations ----------------------------------------------------------

    def declarations(self) -> None:
        for decl in self.policy.terms:
            key = (decl.kind, decl.id)
            if key in self.declared:
                first_line = self.source.position(self.declared[key].span.start)[0] if self.declared[key].span else "?"
                self.error("check.duplicate_term", f"{decl.kind} `{decl.id}` is declared twice", decl.id_span,
                           help=f"it was first declared on line {first_line}; remove one of the two")
                continue
            self.declared[key] = decl
            self.kinds_of.setdefault(decl.id, set()).add(decl.kind)
        for decl in self.policy.terms:
            parent = decl.parent
            if parent is not None and (decl.kind, parent) not in self.declared \
                    and not check_extensions.parent_is_an_action(decl):
                self.error("check.missing_parent",
                           f"{decl.kind} `{decl.id}` is declared, but its parent {decl.kind} `{parent}` is not",
                           decl.id_span, help=f'declare the parent too: {decl.kind} {parent} "..."')
        check_extensions.declarations(self)
        check_time.declarations(self)

    # ---- references ------------------------------------------------------------

    def resolve(self, ref: ast.TermRef, kind: str) -> None:
        if (kind, ref.id) in self.declared:
            self.used.add((kind, ref.id))
            return
        other = sorted(self.kinds_of.get(ref.id, ()))
        if other:
            self.error("check.wrong_kind", f"`{ref.id}` is {ARTICLE[other[0]]}, not {ARTICLE[kind]}", ref.span,
                       help=self._kind_help(ref.id, kind))
            return
        code = "check.unknown_fact" if kind == "fact" else "check.unknown_term"
        self.error(code, f"unknown {kind} `{ref.id}`", ref.span, help=self._kind_help(ref.id, kind))

    def _kind_help(self, word: str, kind: str) -> str:
        same_kind = [i for (k, i) in self.declared if k == kind]
        close = suggest(word, same_kind)
        if close:
            return _did_you_mean(close)
        return f'declare it first: {kind} {word} "Label"'

    def resolve_condition(self, cond: ast.Condition | None) -> None:
        if cond is None:
            return
        for fact in condition_facts(cond):
            check_time.resolve_fact(self, fact)

    def satisfiable(self, cond: ast.Condition) -> bool | None:
        """Exact; None (after a `check.too_complex` error) when deciding it outgrows the budget."""
        try:
            return logic.satisfiable(check_extensions.with_care(self, cond))
        except logic.TooComplex:
            self.error("check.too_complex", "this condition is too large to decide within bounded work "
                       f"(its decision diagram passes {logic.NODE_BUDGET:,} nodes)", cond.span,
                       help="split it into several rules, or name the combination with a fact of its own")
            return None

    def complexity(self) -> None:
        """The conditions of one action's rules together (what a question matching all of them
        needs) must stay within the budget too, so that no decision is past bounded work."""
        if any(d.code == "check.too_complex" for d in self.diags):
            return
        by_action: dict[str, list[ast.Rule]] = {}
        for _, rule in self.policy.rules():
            if rule.condition is not None or rule.time is not None:
                by_action.setdefault(rule.action, []).append(rule)
        for action, rules in by_action.items():
            at = logic.first_too_complex([(r.effect == "allow", timelimits.rule_condition(r))  # type: ignore[misc]
                                          for r in rules])
            if at is not None:
                cond = rules[at].condition or rules[at].time
                self.error("check.too_complex", f"with the conditions of the `{action}` rules before it, this "
                           f"condition is too large to decide within bounded work (the decision diagram of "
                           f"what a question needs passes {logic.NODE_BUDGET:,} nodes)", cond.span if cond else None,
                           help="split the rules by data or purpose, so that fewer of them apply to one question")

    # ---- statements ------------------------------------------------------------

    def check_rule(self, rule: ast.Rule) -> None:
        check_extensions.resolve_action(self, rule.action, rule.span)
        for ref in rule.data or ():
            self.resolve(ref, "data")
        for ref in rule.sources:
            self.resolve(ref, "source")
        for ref in rule.purposes:
            self.resolve(ref, "purpose")
        for ref in rule.recipients:
            self.resolve(ref, "recipient")
        if rule.destinations or rule.safeguard is not None:
            check_transfers.check_rule(self, rule)
        self.resolve_condition(rule.condition)
        check_time.check_rule(self, rule)
        if rule.condition is not None and self.satisfiable(timelimits.rule_condition(rule)) is False:  # type: ignore[arg-type]
            self.error("check.unsatisfiable_condition", "this condition can never hold, so the rule never applies",
                       rule.condition.span, help=check_extensions.unsatisfiable_help(self, rule.condition) or
                       "a condition such as `a and not a` is always false; correct it or remove the rule")
        if rule.basis is not None and rule.basis.id not in ast.LEGAL_BASES:
            close = suggest(rule.basis.id, ast.LEGAL_BASES)
            self.error("check.unknown_basis", f"`{rule.basis.id}` is not a legal basis", rule.basis.span,
                       help=(_did_you_mean(close) + " " if close else "") + "the bases of GDPR Art. 6 are "
                       + ", ".join(ast.LEGAL_BASES))
        for dim, refs in (("data", rule.data or ()), ("source", rule.sources), ("purpose", rule.purposes),
                          ("recipient", rule.recipients)):
            seen: set[str] = set()
            for ref in refs:
                if ref.id in seen:
                    self.warning("check.repeated_term", f"{dim} `{ref.id}` is listed twice in this rule", ref.span,
                                 help="remove the second mention")
                seen.add(ref.id)

    def check_expect(self, exp: ast.Expectation) -> None:
        q = exp.query
        check_extensions.resolve_action(self, q.action, q.span)
        self.resolve(q.data, "data")
        for ref, kind in ((q.source, "source"), (q.purpose, "purpose"), (q.recipient, "recipient")):
            if ref is not None:
                self.resolve(ref, kind)
        for fact in q.facts or ():
            self.resolve(fact, "fact")
        check_transfers.check_question(self, q)
        self.resolve_condition(exp.requires)
        check_time.check_expect(self, exp)
        needed = ast.required_dimension(q.action)
        if needed and getattr(q, needed) is None:
            word = {"source": "from SOURCE", "purpose": "for PURPOSE", "recipient": "with RECIPIENT"}[needed]
            self.error("check.incomplete_question", f"a `{q.action}` question must name a {needed}", q.span,
                       help=f"add `{word}` to the question")
        if exp.decision == "conditional" and q.facts is not None:
            self.error("check.conditional_with_facts",
                       "a question with `given` facts is answered allow or deny, never conditional", exp.span,
                       help="drop the `given` clause to ask with facts unknown, or expect allow or deny")

    def check_right(self, right: ast.Right) -> None:
        if right.right.id not in ast.RIGHTS:
            close = suggest(right.right.id, ast.RIGHTS)
            self.error("check.unknown_right", f"`{right.right.id}` is not a data-subject right", right.right.span,
                       help=(_did_you_mean(close) + " " if close else "") + "the rights are " + ", ".join(ast.RIGHTS))
        check_extensions.check_right(self, right)

    def check_note(self, note: ast.Note) -> None:
        check_extensions.check_note(self, note)

    def check_changes(self, changes: ast.ChangeNotice) -> None:
        check_extensions.check_changes(self, changes)

    def check_audience(self, audience: ast.Audience) -> None:
        check_extensions.check_audience(self, audience)

    def check_retention(self, retention: ast.Retention) -> None:
        for ref in retention.data or ():
            self.resolve(ref, "data")

    def check_security(self, security: ast.Security) -> None:
        pass

    def check_invariant(self, inv: ast.Invariant) -> None:
        check_extensions.resolve_action(self, inv.action, inv.span)
        for dim, refs in (("data", inv.data or ()), ("source", inv.sources), ("purpose", inv.purposes),
                          ("recipient", inv.recipients), ("data", inv.exceptions)):
            for ref in refs:
                self.resolve(ref, dim)
        check_transfers.check_invariant(self, inv)
        if inv.basis is not None:
            self.check_basis(inv.basis)
        if inv.without is not None and inv.without.id not in ast.LEGAL_BASES:
            if ("fact", inv.without.id) in self.declared:
                self.used.add(("fact", inv.without.id))
            else:
                close = suggest(inv.without.id, [*ast.LEGAL_BASES, *(i for (k, i) in self.declared if k == "fact")])
                self.error("check.unknown_requirement", f"`{inv.without.id}` is neither a legal basis nor a fact",
                           inv.without.span, help=(_did_you_mean(close) + " " if close else "")
                           + "write `without BASIS` (like `without consent`) or `without FACT`")
        if inv.unless is not None:
            self.resolve_condition(inv.unless)
            if self.satisfiable(inv.unless) is False:
                self.error("check.unsatisfiable_condition", "this condition can never hold, so the promise "
                           "forbids everything in its scope", inv.unless.span,
                           help="a condition such as `a and not a` is always false; correct it, or write `never`")
        if inv.exceptions and inv.data is not None:
            for exc in inv.exceptions:
                if not any(exc.id == d.id or exc.id.startswith(d.id + ".") for d in inv.data):
                    self.warning("check.exception_outside_scope",
                                 f"data `{exc.id}` is excepted, but the promise is about "
                                 + ", ".join(f"`{d.id}`" for d in inv.data) + " only", exc.span,
                                 help="except only data the promise covers, or widen its `of` list")

    def check_basis(self, basis: ast.TermRef) -> None:
        if basis.id not in ast.LEGAL_BASES:
            close = suggest(basis.id, ast.LEGAL_BASES)
            self.error("check.unknown_basis", f"`{basis.id}` is not a legal basis", basis.span,
                       help=(_did_you_mean(close) + " " if close else "") + "the bases of GDPR Art. 6 are "
                       + ", ".join(ast.LEGAL_BASES))

    # ---- whole-policy warnings ----------------------------------------------------

    def unused(self) -> None:
        in_use = set(self.used)
        for kind, term_id in self.used:  # a used child keeps its ancestors in use
            parts = term_id.split(".")
            in_use.update((kind, ".".join(parts[:i])) for i in range(1, len(parts)))
        for decl in self.declared.values():
            if (decl.kind, decl.id) not in in_use:
                self.warning("check.unused_term", f"{decl.kind} `{decl.id}` is declared but no statement uses it",
                             decl.id_span, help="use it in a rule or expectation, or remove the declaration")


def check(policy: ast.PolicyFile, source: Source) -> list[Diagnostic]:
    return Checker(policy, source).run()
