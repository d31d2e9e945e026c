"""The checks of time limits. In: the Checker (checker.py) with its declarations resolved. Out: its
diagnostics, added in place.

A limit's anchor is a declared fact (or collection), its duration is positive, an expectation's
`for D` follows an allow or a deny, and no fact takes the name `collected`, which stands for the
moment of collection in `collected less than 90 days ago`. Nothing here runs for a policy without
time limits beyond one look at each fact reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policy_engine.language import ast, timelimits
from policy_engine.language.source import Span

if TYPE_CHECKING:
    from policy_engine.language.checker import Checker

UNIT_WORD = {"day": "days", "week": "weeks", "month": "months", "year": "years"}


def declarations(ch: Checker) -> None:
    decl = ch.declared.get(("fact", timelimits.COLLECTED))
    if decl is not None:
        ch.error("check.reserved_term", f"`{timelimits.COLLECTED}` names the moment of collection in time limits; "
                 "it cannot be a fact", decl.id_span, help="give the fact another name, like `data_collected`")


def resolve_fact(ch: Checker, fact: ast.FactRef) -> None:
    """A fact in a condition: a plain fact is resolved; an atom (`account_closed less than 30 days
    ago`) has its anchor resolved and its duration checked."""
    read = timelimits.read_atom(fact.name)
    if read is None:
        ch.resolve(ast.TermRef(id=fact.name, span=fact.span), "fact")
        return
    anchor, duration = read
    span = None if fact.span is None else Span(fact.span.start, fact.span.start + len(anchor))
    if anchor != timelimits.COLLECTED:
        resolve_anchor(ch, ast.TermRef(id=anchor, span=span))
    zero(ch, duration, fact.span)


def resolve_anchor(ch: Checker, ref: ast.TermRef) -> None:
    if ("fact", ref.id) in ch.declared or ref.id in ch.kinds_of:
        ch.resolve(ref, "fact")  # declared, or declared as another kind (check.wrong_kind)
        return
    facts = [i for (k, i) in ch.declared if k == "fact"]
    from policy_engine.language.checker import suggest

    close = suggest(ref.id, facts)
    ch.error("check.unknown_fact", f"unknown fact `{ref.id}`: a time limit counts from collection or from "
             "the moment a declared fact began to hold", ref.span,
             help=("did you mean " + " or ".join(f"`{c}`" for c in close) + "?") if close else
             f'declare it first: fact {ref.id} "Label", or leave out `after {ref.id}` to count from collection')


def zero(ch: Checker, duration: ast.Duration, span: Span | None) -> None:
    if duration.count == 0:
        ch.error("check.zero_duration", f"a time limit of 0 {UNIT_WORD[duration.unit]} never holds, or always does",
                 duration.span or span, help="write the period the text gives, like `within 30 days`")
    too_long(ch, duration, span)


# Why a bound: the engine computes instants (a limit's end, a deadline, an age in an expectation)
# in the calendar, which ends in the year 9999; a period longer than this reaches past it from
# any date a question can carry, and no privacy text means one.
MAX_YEARS = 1000
MAX_DAYS = MAX_YEARS * 365


def too_long(ch: Checker, duration: ast.Duration | None, span: Span | None) -> None:
    """Any duration a policy writes (a limit, a deadline, an age, `for D`) is at most MAX_YEARS."""
    if duration is not None and duration.days > MAX_DAYS:
        ch.error("check.duration_too_long", f"{duration.count} {UNIT_WORD[duration.unit]} is longer than "
                 f"{MAX_YEARS:,} years, beyond the dates the engine can compute", duration.span or span,
                 help="write the period the text gives, like `within 30 days` or `within 10 years`")


def check_rule(ch: Checker, rule: ast.Rule) -> None:
    if rule.time is None:
        return
    if rule.time.anchor is not None:
        resolve_anchor(ch, rule.time.anchor)
    zero(ch, rule.time.duration, rule.time.span)


def check_expect(ch: Checker, exp: ast.Expectation) -> None:
    for _, age in exp.query.ages:
        too_long(ch, age, exp.span)
    too_long(ch, exp.query.collected, exp.span)
    if exp.lasting is not None:
        if exp.decision == "conditional":
            ch.error("check.lasting_conditional", "`for D` states how long an allow or a deny lasts; a conditional "
                     "answer has no end", exp.lasting.span,
                     help="drop `for ...`, or give the facts with `given` and expect allow or deny")
        else:
            zero(ch, exp.lasting, exp.span)
