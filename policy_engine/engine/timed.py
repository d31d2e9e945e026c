"""Decisions about time. In: the Engine, the rules matching a question (Match) and its validated Key
with `at`, `collected_at` and fact times. Out: the Decision, with `until` / `from` where a time
limit ends an allow or lifts a deny.

A time limit is an atom of the rules' conditions (`language.timelimits`). At an instant s:
- an atom on collection is known when `collected_at` is: it holds while s - collected_at < D;
- an atom on a fact is false when the fact does not hold at s (not listed, or listed with a time
  after s: it had not begun), known when every listed fact that makes it hold has a time (the
  anchor began at the earliest of them), and unknown otherwise (listed as held, time unknown).
Closed world (facts given): an allow applies only if it holds for every value the unknown atoms
can take together (a shorter limit on one anchor implies a longer one), a deny applies if it holds
for some: an allow that needs an unknown limit does not apply and a deny that needs it does (fail
closed). Then deny overrides allow and default deny, as everywhere.
Facts omitted: the known atoms are put in, the rest stay in `requires`, in words.

`until` / `from`: the answer changes only where an atom or a fact's start does, so the candidate
instants after `at` (each known anchor time plus each duration, and each listed fact's start) are
decided in order; the first whose answer differs is the one reported. Nothing here runs for a
question whose rules have no time limit and whose facts carry no time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from policy_engine.engine.query import Decision, Key
from policy_engine.engine.query_time import now, rfc3339
from policy_engine.language import ast, logic, timelimits

if TYPE_CHECKING:
    from policy_engine.engine.engine import Engine, Match

DAY = dt.timedelta(days=1)
COMPLETIONS_LIMIT = 4096  # more joint values of unknown atoms than this: a rule that mentions one needs it


def decide(engine: Engine, match: Match, key: Key) -> Decision:
    at = key.at or now()
    answer = _at(engine, match, key, at)
    if answer.decision == "conditional":
        return answer
    for instant in _candidates(match, key, at):
        later = _at(engine, match, key, instant)
        if answer.decision == "allow" and later.decision != "allow":
            return answer.model_copy(update={"until": rfc3339(instant)})
        if answer.decision == "deny" and later.decision == "allow":
            return answer.model_copy(update={"from_": rfc3339(instant)})
    return answer


def _candidates(match: Match, key: Key, at: dt.datetime) -> list[dt.datetime]:
    """Every instant after `at` where an atom or a listed fact may change (a superset is harmless:
    an instant where nothing changes answers the same)."""
    starts = [t for _, t in key.times]
    if key.collected_at is not None:
        starts.append(key.collected_at)
    lengths = {timelimits.atom_days(a)[1] for a in match.atoms}  # type: ignore[index]
    out = {t + d * DAY for t in starts for d in lengths} | {t for _, t in key.times}
    return sorted(t for t in out if t > at)


# ---- one instant ------------------------------------------------------------------------


def _values(engine: Engine, match: Match, key: Key, at: dt.datetime,
            held: frozenset[str] | None) -> tuple[dict[str, bool], dict[str, list[tuple[int, str]]]]:
    return atom_values(engine.close, match.atoms, key.collected_at, key.facts, key.times, at, held)  # type: ignore[arg-type]


def atom_values(close: Callable[[frozenset[str]], frozenset[str]], atoms: Iterable[str],
                collected_at: dt.datetime | None, facts: Iterable[str] | None,
                times: Iterable[tuple[str, dt.datetime]], at: dt.datetime,
                held: frozenset[str] | None) -> tuple[dict[str, bool], dict[str, list[tuple[int, str]]]]:
    """The atoms known at `at` (name -> value) and the unknown ones by anchor, (days, name) sorted.
    `facts` and `times`: the question's listed facts and their known times; `held`: the facts that
    hold at `at` (closed), None with the facts omitted. Rights questions share it (rights_timed.py)."""
    known: dict[str, bool] = {}
    unknown: dict[str, list[tuple[int, str]]] = {}
    anchors: dict[str, dt.datetime | None] = {}
    for atom in atoms:
        anchor, days = timelimits.atom_days(atom)  # type: ignore[misc]
        if anchor == timelimits.COLLECTED:
            began = collected_at
        elif held is None:
            began = None
        elif anchor not in held:
            known[atom] = False
            continue
        else:
            if anchor not in anchors:
                anchors[anchor] = _began(close, facts, times, anchor, at)
            began = anchors[anchor]
        if began is None:
            unknown.setdefault(anchor, []).append((days, atom))
        else:
            known[atom] = at - began < days * DAY
    for listed in unknown.values():
        listed.sort()
    return known, unknown


def _began(close: Callable[[frozenset[str]], frozenset[str]], facts: Iterable[str] | None,
           times: Iterable[tuple[str, dt.datetime]], anchor: str, at: dt.datetime) -> dt.datetime | None:
    """When `anchor` began to hold by `at`: the earliest time of the listed facts that make it hold,
    None if one of them has no time."""
    known = dict(times)
    earliest = None
    for f in facts or ():
        t = known.get(f)
        if (t is None or t <= at) and anchor in close(frozenset((f,))):
            if t is None:
                return None
            earliest = t if earliest is None or t < earliest else earliest
    return earliest


def _at(engine: Engine, match: Match, key: Key, at: dt.datetime) -> Decision:
    if key.facts is None:
        known, _ = _values(engine, match, key, at, None)
        return engine._partial(match) if not known else _partial(engine, match, known)
    times = dict(key.times)
    listed = frozenset(f for f in key.facts if f not in times or times[f] <= at)
    held = engine.close(listed)
    known, unknown = _values(engine, match, key, at, held)
    base = (held & match.facts) | {a for a, v in known.items() if v}
    rules = engine.rules
    everywhere: set[int] | None = None  # allows holding whatever the unknown atoms are: those that apply
    denying: set[int] = set()  # denies holding for some value of them: those that apply (fail closed)
    completions = completions_of(unknown)
    if completions is None:  # too many to enumerate: a rule that mentions an unknown atom needs it
        names = {n for atoms in unknown.values() for _, n in atoms}
        denying = {i for i in match.denies if rules[i].facts & names or rules[i].holds(base)}
        everywhere = {i for i in match.allows if not rules[i].facts & names and rules[i].holds(base)}
        completions = []
    for completion in completions:
        facts = base | completion
        denying |= {i for i in match.denies if rules[i].holds(facts)}
        allows = {i for i in match.allows if rules[i].holds(facts)}
        everywhere = allows if everywhere is None else everywhere & allows
    if not denying and everywhere:
        return engine._answer("allow", sorted(everywhere))
    fixed = {a: v for a, v in known.items() if timelimits.atom_days(a)[0] == timelimits.COLLECTED  # type: ignore[index]
             or _anchor_timed(key, a)}
    req = requirement(engine, match, fixed) if match.allows else False
    return engine._answer("deny", sorted(denying), would_allow_if=None if req is False else logic.to_text(req))


def _anchor_timed(key: Key, atom: str) -> bool:
    anchor = timelimits.atom_days(atom)[0]  # type: ignore[index]
    return any(f == anchor for f, _ in key.times)


def completions_of(unknown: dict[str, list[tuple[int, str]]]) -> list[frozenset[str]] | None:
    """The values unknown atoms can take together: on one anchor, the limits from some length up
    hold. None when there are more than COMPLETIONS_LIMIT (bounded work; the caller fails closed)."""
    if not unknown:
        return [frozenset()]
    per_anchor = [[frozenset(n for _, n in atoms[k:]) for k in range(len(atoms) + 1)] for atoms in unknown.values()]
    count = 1
    for options in per_anchor:
        count *= len(options)
    if count > COMPLETIONS_LIMIT:
        return None
    return [frozenset().union(*combo) for combo in itertools.product(*per_anchor)]


# ---- facts omitted, some atoms known ------------------------------------------------------


def substitute(cond: ast.Condition | None, values: dict[str, bool]) -> logic.Requirement | None:
    """The condition with the atoms of `values` put in: True, False or what remains (None: no condition)."""
    if cond is None:
        return None
    if isinstance(cond, ast.FactRef):
        return values.get(cond.name, cond)
    if isinstance(cond, ast.Not):
        inner = substitute(cond.operand, values)
        return (not inner) if isinstance(inner, bool) else ast.Not(operand=inner)  # type: ignore[arg-type]
    conjunctive = isinstance(cond, ast.And)
    parts: list[ast.Condition] = []
    for o in cond.operands:
        v = substitute(o, values)
        if v is (not conjunctive):
            return v  # type: ignore[return-value]
        if not isinstance(v, bool):
            parts.append(v)  # type: ignore[arg-type]
    if not parts:
        return conjunctive
    if len(parts) == 1:
        return parts[0]
    return (ast.And if conjunctive else ast.Or)(operands=tuple(parts))


def requirement(engine: Engine, match: Match, values: dict[str, bool]) -> logic.Requirement:
    """`A and not D` over the matching rules with the known atoms put in, over the assignments that can happen."""
    if not values:
        return engine.requirement(match)
    allows = [substitute(engine.rules[i].condition, values) for i in match.allows]
    denies = [substitute(engine.rules[i].condition, values) for i in match.denies]
    allows = [None if a is True else a for a in allows if a is not False]
    denies = [None if d is True else d for d in denies if d is not False]
    care = engine.cp.vocabulary.care(logic.facts_of_all([*allows, *denies]))  # type: ignore[list-item]
    return logic.requirement(allows, denies, care=care)  # type: ignore[arg-type]


def known_requirement(engine: Engine, match: Match, key: Key) -> logic.Requirement:
    """What the question needs with its facts omitted, at `at`: the atoms the question's times decide
    put in (collection, when `collected_at` is given), the rest left as they are."""
    known, _ = _values(engine, match, key, key.at or now(), None)
    return requirement(engine, match, known)


def _partial(engine: Engine, match: Match, values: dict[str, bool]) -> Decision:
    req = requirement(engine, match, values)
    rules = engine.rules
    if req is True:
        cited = [i for i in match.allows if substitute(rules[i].condition, values) in (None, True)]
        return engine._answer("allow", cited or list(match.allows))
    if req is False:
        cited = [i for i in match.denies if substitute(rules[i].condition, values) in (None, True)]
        return engine._answer("deny", cited or list(match.denies))
    return engine._answer("conditional", sorted(match.allows + match.denies), requires=logic.to_text(req))
