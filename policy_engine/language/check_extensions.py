"""The checks of the constructs for real policies: sub-actions, facts that imply facts, rights with
conditions, deadlines, limits and exceptions, and the statements that decide nothing. In: the
Checker (checker.py) with its declarations resolved. Out: its diagnostics, added in place.

Kept apart from checker.py so each module stays small; the Checker calls these at the points
named in their docstrings, and nothing here runs for a policy that uses none of the constructs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policy_engine.language import ast, implication
from policy_engine.language.check_time import UNIT_WORD, too_long
from policy_engine.language.source import Span

if TYPE_CHECKING:
    from policy_engine.language.checker import Checker



def declarations(ch: Checker) -> None:
    """After the declarations are collected: sub-actions refine one of the four actions, only facts
    imply, what they imply is a declared fact, and no fact implies itself."""
    for decl in ch.policy.terms:
        if decl.kind == "action" and ("." not in decl.id or ast.base_action(decl.id) not in ast.ACTIONS):
            ch.error("check.unknown_base_action", f"`{decl.id}` is not a sub-action of "
                     + ", ".join(ast.ACTIONS), decl.id_span,
                     help="declare a sub-action under one of the four actions, like `action share.sell \"Sale\"`")
        if decl.implies and decl.kind != "fact":
            ch.error("check.implies_not_fact", f"only facts imply facts; `{decl.id}` is {decl.kind}",
                     decl.implies[0].span, help="remove the `implies` clause, or declare the term as a fact")
            continue
        for ref in decl.implies:
            if ref.id == decl.id:
                continue  # reported as a cycle below
            ch.resolve(ref, "fact")
    for path in implication.cycles(ch.policy.terms):
        decl = ch.declared.get(("fact", path[0]))
        span = decl.implies[0].span if decl is not None and decl.implies else (decl.id_span if decl else None)
        ch.error("check.implication_cycle", f"fact `{path[0]}` implies itself: " + " -> ".join(path), span,
                 help="an implication runs one way (the narrower fact implies the wider one); remove one `implies`")


def parent_is_an_action(decl: ast.TermDecl) -> bool:
    """A sub-action's parent may be one of the four actions, which are never declared (and one
    outside them is `check.unknown_base_action`, reported once, not also as a missing parent)."""
    return decl.kind == "action" and (decl.parent in ast.ACTIONS or ast.base_action(decl.id) not in ast.ACTIONS)


def resolve_action(ch: Checker, action: str, span: Span | None) -> None:
    """A rule, question or promise on a sub-action names one the policy declares."""
    if action in ast.ACTIONS:
        return
    if ("action", action) in ch.declared:
        ch.used.add(("action", action))
        return
    if span is not None:  # point at the action word, not the whole statement
        at = ch.source.text.find(action, span.start, span.end)
        span = Span(at, at + len(action)) if at >= 0 else span
    declared = [i for (k, i) in ch.declared if k == "action"]
    import difflib

    close = difflib.get_close_matches(action, declared, n=2, cutoff=0.8)
    ch.error("check.unknown_action", f"unknown action `{action}`", span,
             help=("did you mean " + " or ".join(f"`{c}`" for c in close) + "?") if close else
             f'declare the sub-action first: action {action} "Label"')


def with_care(ch: Checker, cond: ast.Condition) -> ast.Condition:
    """The condition restricted to assignments closed under implication (for satisfiability)."""
    implied = getattr(ch, "_implied", None)
    if implied is None:
        implied = implication.closure(ch.policy.terms)
        ch._implied = implied  # type: ignore[attr-defined]
    from policy_engine.language import logic, timelimits

    facts = logic.facts_of(cond)
    time_care = timelimits.care(facts) if any(" " in f for f in facts) else None
    if time_care is not None:
        cond = ast.And(operands=(cond, time_care))
        facts = logic.facts_of(cond)
    if not implied:
        return cond
    care = implication.care(implied, facts)
    return cond if care is None else ast.And(operands=(cond, care))


def unsatisfiable_help(ch: Checker, cond: ast.Condition) -> str | None:
    """When only implication makes a condition impossible, the help names the implication."""
    from policy_engine.language import logic

    implied = getattr(ch, "_implied", None) or {}
    facts = logic.facts_of(cond)
    pairs = [(f, g) for f in sorted(facts) for g in sorted(implied.get(f, ())) if g != f and g in facts]
    if not pairs or not logic.satisfiable(cond):
        return None
    f, g = pairs[0]
    return f"`{f}` implies `{g}`, so no set of facts makes this condition hold; correct it or remove the rule"


def check_right(ch: Checker, right: ast.Right) -> None:
    """A right's condition can hold, its deadline and limit are positive, its extension follows a
    deadline, and what its exceptions name is declared."""
    if right.condition is not None:
        ch.resolve_condition(right.condition)
        if ch.satisfiable(right.condition) is False:
            ch.error("check.unsatisfiable_condition", "this condition can never hold, so no one has the right",
                     right.condition.span, help="correct the condition, or remove the right")
    for d in (right.deadline, right.extension, right.per):
        if d is not None and d.count == 0:
            ch.error("check.zero_duration", f"a duration of 0 {UNIT_WORD[d.unit]} cannot be met", d.span,
                     help="write the number of days, weeks, months or years the text gives")
        too_long(ch, d, right.span)
    if right.limit is not None and right.limit == 0:
        ch.error("check.zero_limit", "`at most 0` requests would take the right away", right.span,
                 help="write how many requests the text allows, like `at most 2 per 12 months`")
    for e in right.exceptions:
        resolve_action(ch, e.action, e.span)
        for ref in e.purposes:
            ch.resolve(ref, "purpose")


def check_note(ch: Checker, note: ast.Note) -> None:
    if note.condition is not None:
        ch.resolve_condition(note.condition)
    if note.topic in ("effective", "version") and note.date is None:
        return  # the parser reported the date
    if note.text is not None and not note.text.strip():
        ch.error("check.empty_statement", f"`{note.topic}` states nothing", note.span,
                 help="write what the published text says, in a few words")


def check_changes(ch: Checker, changes: ast.ChangeNotice) -> None:
    too_long(ch, changes.notice, changes.span)
    if changes.notice.count == 0:
        ch.warning("check.zero_duration", "a notice of 0 days: changes take effect when announced", changes.span,
                   help="write the notice period the text gives, or remove the statement")


def check_audience(ch: Checker, audience: ast.Audience) -> None:
    ch.resolve_condition(audience.condition)
    if ch.satisfiable(audience.condition) is False:
        ch.error("check.unsatisfiable_condition", "this audience can never hold: the section addresses no one",
                 audience.condition.span, help="correct the condition")
