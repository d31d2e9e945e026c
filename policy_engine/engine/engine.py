"""docs/semantics.md, decided. In: a CompiledPolicy and a validated query Key. Out: Decision.

Matching is the decision index's bitsets ANDed; then, over the matching rules M only:
closed world (facts given): a holding deny -> deny; else a holding allow -> allow; else
default deny. A closed-world deny carries `would_allow_if`, the simplified requirement of
the partial evaluation, whenever some set of facts would allow the same question. Partial evaluation
(facts omitted): `(OR allow conditions) and not (OR deny conditions)`, simplified by
`logic`: true -> allow, false -> deny, else conditional with `requires`.

Reasons cite, in policy order: for a closed-world deny or allow, the rules of that effect
whose condition holds; for a partial allow, the unconditional allows (else all matching
allows); for a partial deny, the unconditional denies (else all matching denies); for a
conditional, every matching rule. A default deny cites nothing.

Answers depend only on (M, the facts M's conditions mention), so they are memoised on that;
memo tables are bounded and filled under a lock, so one Engine serves many threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from policy_engine.language import logic
from policy_engine.engine import timed, timed_words
from policy_engine.engine.compiler import CompiledPolicy, CompiledRule, bits
from policy_engine.engine.query import Decision, Key, PolicyRef, Reason

MEMO_LIMIT = 65_536


@dataclass(frozen=True)
class Match:
    """The rules matching one query, split by effect (policy order), and the facts they mention."""

    rules: int
    allows: tuple[int, ...]
    denies: tuple[int, ...]
    facts: frozenset[str]
    atoms: tuple[str, ...] = ()  # the time limits among `facts` (language.timelimits): decided by `timed`
    _requirement: list[logic.Requirement] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class Explanation:
    """A decision with what lies behind it, for `explain`: the matching rules by effect."""

    key: Key
    decision: Decision
    allows: tuple[CompiledRule, ...]
    denies: tuple[CompiledRule, ...]
    requirement: logic.Requirement


class Engine:
    def __init__(self, cp: CompiledPolicy, ref: PolicyRef, memo_limit: int = MEMO_LIMIT):
        assert cp.index is not None
        self.cp = cp
        self.rules = cp.rules
        self.index = cp.index
        self.ref = ref
        self.memo_limit = memo_limit
        self._reasons: list[Reason | None] = [None] * len(cp.rules)
        self._matches: dict[int, Match] = {}
        self._answers: dict[tuple[int, frozenset[str] | None], Decision] = {}
        self._lock = threading.Lock()
        self.close = cp.vocabulary.close

    # ---- the decision --------------------------------------------------------------

    def decide(self, key: Key) -> Decision:
        m = self.index.match(key.action, key.data, key.source, key.purpose, key.recipient, key.destination)
        match = self._matches.get(m) or self._match(m)
        if match.atoms or key.times:  # time limits, or facts with times: decided at an instant
            return timed.decide(self, match, key)
        # a listed fact makes every fact it implies hold (its dotted ancestors, its declared implications)
        memo = (m, None if key.facts is None else self.close(key.facts) & match.facts)
        answer = self._answers.get(memo)
        if answer is None:
            answer = self._partial(match) if memo[1] is None else self._closed(match, memo[1])
            self._store(self._answers, memo, answer)
        return answer

    def explain(self, key: Key) -> Explanation:
        m = self.index.match(key.action, key.data, key.source, key.purpose, key.recipient, key.destination)
        match = self._matches.get(m) or self._match(m)
        req = timed.known_requirement(self, match, key) if match.atoms else self.requirement(match)
        return Explanation(key, self.decide(key), tuple(self.rules[i] for i in match.allows),
                           tuple(self.rules[i] for i in match.denies), req)

    def requirement(self, match: Match) -> logic.Requirement:
        if not match._requirement:
            # over assignments closed under implication only (facts that imply facts), when any
            care = self.cp.vocabulary.care(match.facts)
            req = logic.requirement([self.rules[i].condition for i in match.allows],
                                    [self.rules[i].condition for i in match.denies], care=care)
            match._requirement.append(req)
        return match._requirement[0]

    def _match(self, m: int) -> Match:
        allows: list[int] = []
        denies: list[int] = []
        facts: set[str] = set()
        for i in bits(m):
            rule = self.rules[i]
            (denies if rule.effect == "deny" else allows).append(i)
            facts |= rule.facts
        match = Match(m, tuple(allows), tuple(denies), frozenset(facts),
                      tuple(sorted(f for f in facts if " " in f)) if self.cp.vocabulary.timed else ())
        self._store(self._matches, m, match)
        return match

    def _closed(self, match: Match, held: frozenset[str]) -> Decision:
        rules = self.rules
        denying = [i for i in match.denies if rules[i].holds(held)]
        if not denying:
            allowing = [i for i in match.allows if rules[i].holds(held)]
            if allowing:
                return self._answer("allow", allowing)
        req = self.requirement(match) if match.allows else False
        return self._answer("deny", denying, would_allow_if=None if req is False else logic.to_text(req))

    def _partial(self, match: Match) -> Decision:
        req = self.requirement(match)
        rules = self.rules
        if req is True:
            cited = [i for i in match.allows if rules[i].condition is None] or list(match.allows)
            return self._answer("allow", cited)
        if req is False:
            cited = [i for i in match.denies if rules[i].condition is None] or list(match.denies)
            return self._answer("deny", cited)
        return self._answer("conditional", sorted(match.allows + match.denies), requires=logic.to_text(req))

    # ---- answers ------------------------------------------------------------------------

    def reason(self, i: int) -> Reason:
        reason = self._reasons[i]
        if reason is None:
            r = self.rules[i]
            reason = Reason(effect=r.effect, rule=r.text, file=r.file, line=r.line, section=r.section, basis=r.basis,
                            limit=None if r.time is None else timed_words.limit_iso(r.time), safeguard=r.safeguard)
            self._reasons[i] = reason
        return reason

    def _answer(self, decision: str, cited: list[int], **extra: Any) -> Decision:
        return Decision(decision=decision, reasons=tuple(self.reason(i) for i in cited), policy=self.ref, **extra)

    def _store(self, table: dict, key: Any, value: Any) -> None:  # type: ignore[type-arg]
        with self._lock:
            if len(table) >= self.memo_limit:
                table.clear()
            table[key] = value
