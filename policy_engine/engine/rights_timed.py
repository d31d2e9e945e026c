"""Rights questions about time. In: the vocabulary, a right's conditions and a question's facts
with their times and `at`. Out: whether a condition grants the right at `at`, and the first later
instant at which the answer changes (`until` for a right granted now, `from` for one denied now).

A right's condition may say `account_closed less than 30 days ago`: at an instant it is one more
atom, true, false or unknown, decided as in decisions (timed.atom_values): false when its fact does
not hold (not listed, or listed with a time after `at`), known when the fact's start is, unknown
when it is listed as held with no time. A condition grants the right only if it holds whatever
the unknown atoms are (fail closed: a person is not told they have a right the policy may not
give them). The answer changes only where an atom or a fact's start does, so the instants after
`at` where one may (each fact time, and each fact time plus each limit's length) are tried in
order and the first whose answer differs is reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from policy_engine.engine.timed import DAY, atom_values, completions_of
from policy_engine.engine.vocabulary import Vocabulary
from policy_engine.language import ast, logic, timelimits


def grants(vocab: Vocabulary, condition: ast.Condition | None, facts: frozenset[str],
           times: tuple[tuple[str, dt.datetime], ...], at: dt.datetime) -> bool:
    """Whether `condition` holds at `at` for every value the unknown time limits in it can take."""
    if condition is None:
        return True
    began = dict(times)
    held = vocab.close(frozenset(f for f in facts if f not in began or began[f] <= at))
    atoms = timelimits.atoms_of(logic.facts_of_all([condition]))
    if not atoms:
        return logic.evaluate(condition, held)
    known, unknown = atom_values(vocab.close, atoms, None, facts, times, at, held)
    base = held | {a for a, v in known.items() if v}
    completions = completions_of(unknown)
    if completions is None:  # too many joint values to try: unsure, so not granted
        return False
    return all(logic.evaluate(condition, base | c) for c in completions)


def first_change(vocab: Vocabulary, conditions: Iterable[ast.Condition | None], facts: frozenset[str],
                 times: tuple[tuple[str, dt.datetime], ...], at: dt.datetime,
                 granted: bool) -> dt.datetime | None:
    """The first instant after `at` at which some condition grants the right (`granted` False) or
    none does any more (`granted` True); None if the answer never changes."""
    conditions = list(conditions)
    if not times:  # no fact has a start: nothing here moves with the clock
        return None
    lengths = {timelimits.atom_days(a)[1]  # type: ignore[index]
               for a in timelimits.atoms_of(logic.facts_of_all([c for c in conditions if c is not None]))}
    starts = [t for _, t in times]
    candidates = sorted({t + d * DAY for t in starts for d in lengths} | set(starts))
    for instant in (t for t in candidates if t > at):
        if any(grants(vocab, c, facts, times, instant) for c in conditions) != granted:
            return instant
    return None
