"""Time limits as atoms of the condition logic. In: a rule's ast.TimeLimit, or a condition's atom
`account_closed less than 30 days ago`. Out: the atom's name, the condition a limit stands for,
and the care set that ties atoms to their anchors.

Why atoms: a time limit is, at the instant a question is asked about, either true or false (or
unknown, when the anchor's time is). Named as a variable of the existing Boolean logic, it goes
through partial evaluation, simplification, diff and invariants unchanged, and `requires` says it
in words that parse back as a condition: `account_closed less than 30 days ago`.

- `within D [after F]` is the atom `F less than D ago` (`collected less than D ago` without F).
- `after D after F` is `F and not (F less than D ago)`; `after D` (from collection) is
  `not (collected less than D ago)`: data asked about has been collected.

An atom holds when its anchor holds and began less than D before the instant asked about; so an
atom implies its anchor fact, and a shorter limit on one anchor implies a longer one. `care`
states both, so partial evaluation ranges over the assignments that can happen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from policy_engine.language import ast

COLLECTED = "collected"  # the anchor of a limit from collection; not a fact a policy declares
_ATOM = re.compile(r"(\S+) less than (\d+) (day|week|month|year)s? ago")
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


def atom_name(anchor: str | None, duration: ast.Duration) -> str:
    """The atom's variable name, which is also how it is written: `account_closed less than 30 days ago`."""
    return f"{anchor or COLLECTED} less than {duration.text()} ago"


def is_atom(name: str) -> bool:
    return " " in name


def read_atom(name: str) -> tuple[str, ast.Duration] | None:
    """(anchor, duration) of an atom's name (`collected` for collection); None for a plain fact."""
    if " " not in name:
        return None
    found = _ATOM.fullmatch(name)
    if found is None:
        return None
    return found.group(1), ast.Duration(count=int(found.group(2)), unit=found.group(3))  # type: ignore[arg-type]


def atom_days(name: str) -> tuple[str, int] | None:
    """(anchor, length in days) of an atom's name; None for a plain fact."""
    read = read_atom(name)
    return None if read is None else (read[0], read[1].days)


def limit_condition(limit: ast.TimeLimit) -> ast.Condition:
    """The condition a rule's time limit stands for (see the module docstring)."""
    anchor = None if limit.anchor is None else limit.anchor.id
    atom = ast.FactRef(name=atom_name(anchor, limit.duration), span=limit.span)
    if limit.form == "within":
        return atom
    if anchor is None:
        return ast.Not(operand=atom, span=limit.span)
    return ast.And(operands=(ast.FactRef(name=anchor, span=limit.anchor.span if limit.anchor else None),
                             ast.Not(operand=atom)), span=limit.span)


def rule_condition(rule: ast.Rule) -> ast.Condition | None:
    """A rule's condition with its time limit conjoined (the condition itself when it has none)."""
    if rule.time is None:
        return rule.condition
    limit = limit_condition(rule.time)
    if rule.condition is None:
        return limit
    parts: list[ast.Condition] = []
    for c in (rule.condition, limit):
        parts.extend(c.operands if isinstance(c, ast.And) else [c])
    return ast.And(operands=tuple(parts), span=rule.condition.span)


def care(facts: Iterable[str]) -> ast.Condition | None:
    """`(not A or F)` for each atom A on a fact F, and `(not A or B)` where A and B share an anchor
    and A's duration is not longer than B's; None when `facts` hold no atom."""
    by_anchor: dict[str, list[tuple[int, str]]] = {}
    for name in facts:
        read = atom_days(name)
        if read is not None:
            by_anchor.setdefault(read[0], []).append((read[1], name))
    if not by_anchor:
        return None
    parts: list[ast.Condition] = []

    def implication(a: str, b: str) -> None:
        parts.append(ast.Or(operands=(ast.Not(operand=ast.FactRef(name=a)), ast.FactRef(name=b))))

    for anchor in sorted(by_anchor):
        atoms = sorted(by_anchor[anchor])
        if anchor != COLLECTED:
            implication(atoms[-1][1], anchor)  # the longest limit implies its anchor; the chain does the rest
        for (d1, a1), (d2, a2) in zip(atoms, atoms[1:]):
            implication(a1, a2)
            if d1 == d2:  # `4 weeks` and `28 days` are one limit written two ways
                implication(a2, a1)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ast.And(operands=tuple(parts))


def atoms_of(names: Iterable[str]) -> list[str]:
    return [n for n in names if " " in n]
