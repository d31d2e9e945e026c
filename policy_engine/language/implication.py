"""Facts that imply facts (dotted ancestors always, `implies` where declared). In: the declarations
of a policy. Out: each fact's closure, the cycles among declared implications, and the care set
that restricts a condition's assignments to those some closed set of listed facts gives.

Why a care set: with facts omitted the engine's requirement ranges over every assignment of the
facts it mentions, but only assignments closed under implication can happen (`minor.under_13` with
`minor.under_16` false cannot). Conjoining the implications among the mentioned facts is exact: a
closed assignment satisfies them, and any assignment that satisfies them extends to a closed one
(set each unmentioned fact true exactly when some true mentioned fact implies it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from policy_engine.language import ast


def direct_implications(terms: Iterable[ast.TermDecl]) -> dict[str, set[str]]:
    """fact -> the facts it implies in one step: its parent and what it declares."""
    direct: dict[str, set[str]] = {}
    for decl in terms:
        if decl.kind == "fact":
            out = direct.setdefault(decl.id, set())
            if decl.parent is not None:
                out.add(decl.parent)
            out.update(r.id for r in decl.implies)
    return direct


def closure(terms: Iterable[ast.TermDecl]) -> dict[str, frozenset[str]]:
    """Each fact that implies another -> everything it implies, itself included (bounded even on a
    cycle, which the checker reports)."""
    direct = direct_implications(terms)
    out: dict[str, frozenset[str]] = {}
    for start, nxt in direct.items():
        if not nxt:
            continue
        seen = {start}
        todo = list(nxt)
        while todo:
            f = todo.pop()
            if f not in seen:
                seen.add(f)
                todo.extend(direct.get(f, ()))
        out[start] = frozenset(seen)
    return out


def cycles(terms: Iterable[ast.TermDecl]) -> list[list[str]]:
    """Each cycle of implications once, as the path that closes it (`a -> b -> a`), in declaration order."""
    direct = direct_implications(terms)
    found: list[list[str]] = []
    seen_members: set[str] = set()
    for start in direct:
        if start in seen_members:
            continue
        path = _path_back(direct, start)
        if path is not None:
            found.append(path)
            seen_members.update(path)
    return found


def _path_back(direct: Mapping[str, set[str]], start: str) -> list[str] | None:
    """A path from `start` back to itself, or None."""
    stack: list[tuple[str, list[str]]] = [(n, [start, n]) for n in sorted(direct.get(start, ()))]
    visited: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == start:
            return path
        if node in visited:
            continue
        visited.add(node)
        stack.extend((n, [*path, n]) for n in sorted(direct.get(node, ())))
    return None


def care(implied: Mapping[str, frozenset[str]], facts: Iterable[str]) -> ast.Condition | None:
    """`(not f or g) and ...` for each f, g among `facts` where f implies g; None when there is none."""
    facts = frozenset(facts)
    pairs = sorted((f, g) for f in facts if f in implied for g in implied[f] if g != f and g in facts)
    if not pairs:
        return None
    parts = tuple(ast.Or(operands=(ast.Not(operand=ast.FactRef(name=f)), ast.FactRef(name=g))) for f, g in pairs)
    return parts[0] if len(parts) == 1 else ast.And(operands=parts)
