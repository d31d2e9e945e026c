"""The rights question (docs/semantics.md). In: a compiled policy and `{"right": ID, "facts": [...]}` (facts
omitted: unknown). Out: RightsAnswer: whether the person has the right, how to exercise it, how fast
it is answered, how often, and what the policy still allows after the request.

A right is granted by the `right` statements that name it: a statement without a condition grants
it to everyone, one with a condition to whoever meets it, several to whoever meets any of them
(their channels are pooled, the shortest deadline and the tightest limit are reported: what the
person can count on). A right no statement names is denied (default deny), with no reasons. With
facts given the world is closed, and a listed fact makes every fact it implies hold; with facts
omitted the answer is `conditional` with the simplified requirement, over assignments closed under
implication, exactly as a decision's (`engine.Engine.requirement`). A condition with a time limit
(`account_closed less than 30 days ago`) is decided at the question's `at` from the facts' times
(`facts` as an object of fact -> time), failing closed where a time is unknown (rights_timed.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy_engine.engine import rights_timed
from policy_engine.engine.compiler import CompiledPolicy
from policy_engine.engine.query import PolicyRef, QueryError, Reason, _type_name
from policy_engine.engine.query_time import EXAMPLE, fact_times, instant, now, rfc3339
from policy_engine.language import ast, logic
from policy_engine.language.printer import right_clauses


class RightsAnswer(BaseModel):
    """`{"right", "decision", "requires"?, "channels", "deadline"?, "extension"?, "limit"?,
    "exceptions", "reasons", "policy"}`; durations are ISO 8601 (`P45D`), a limit `2 per P12M`."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    right: str
    decision: str
    requires: str | None = None
    channels: tuple[str, ...] = ()
    deadline: str | None = None
    extension: str | None = None
    limit: str | None = None
    # with the facts given and a time in them: the first instant after `at` at which the person no
    # longer has the right (`until`), or first has it (`from`), where a time limit or a fact's start moves it
    until: str | None = None
    from_: str | None = Field(default=None, alias="from")
    exceptions: tuple[Reason, ...] = ()
    reasons: tuple[Reason, ...] = ()
    policy: PolicyRef

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class Statement:
    """One `right` statement with where it is written."""

    right: ast.Right
    section: str
    line: int


def statements(cp: CompiledPolicy) -> list[Statement]:
    out = []
    for section in cp.tree.sections:
        for item in section.items:
            if isinstance(item, ast.Right):
                line = cp.source.position(item.span.start)[0] if item.span is not None else 0
                out.append(Statement(item, section.title, line))
    return out


@dataclass(frozen=True)
class Question:
    """A validated rights question: the facts listed (None: unknown), the times of those that have
    one, and the instant asked about (None: now)."""

    right: str
    facts: frozenset[str] | None
    times: tuple[tuple[str, dt.datetime], ...] = ()
    at: dt.datetime | None = None


def validate(raw: Any, vocab_facts: Mapping[str, Any]) -> Question:
    """`{"right": ID, "facts": [...] | {fact: true | time} | null, "at": time?}` -> Question; the
    first fault raises QueryError."""
    if not isinstance(raw, Mapping):
        raise QueryError("query.wrong_type", f"a rights question is a JSON object, not {_type_name(raw)}")
    for name in raw:
        if name not in ("right", "facts", "at"):
            raise QueryError("query.unknown_field", f"unknown field `{name}`; a rights question has the fields "
                             "right, facts, at", str(name))
    right = raw.get("right")
    if right is None:
        raise QueryError("query.missing_field", "the question has no `right`", "right")
    if not isinstance(right, str):
        raise QueryError("query.wrong_type", f"`right` must be a text, not {_type_name(right)}", "right")
    if right not in ast.RIGHTS:
        import difflib

        raise QueryError("query.unknown_term", f"unknown right `{right}`; the rights are " + ", ".join(ast.RIGHTS),
                         "right", difflib.get_close_matches(right, ast.RIGHTS, n=2, cutoff=0.6))
    at = None if raw.get("at") is None else instant(raw["at"], "at")
    facts = raw.get("facts")
    if facts is None:
        return Question(right, None, at=at)
    times: tuple[tuple[str, dt.datetime], ...] = ()
    if isinstance(facts, Mapping):
        facts, times = fact_times(facts)
    elif not isinstance(facts, (list, tuple)) or not all(isinstance(f, str) for f in facts):
        raise QueryError("query.wrong_type", "`facts` must be a list of fact names, an object of fact -> true or "
                         f"the time it began to hold (like {{\"account_closed\": \"{EXAMPLE}\"}}), or null", "facts")
    for f in facts:
        if f not in vocab_facts:
            import difflib

            raise QueryError("query.unknown_term", f"unknown fact `{f}`", "facts",
                             difflib.get_close_matches(f, list(vocab_facts), n=3, cutoff=0.6))
    return Question(right, frozenset(facts), times, at)


def answer(cp: CompiledPolicy, ref: PolicyRef, raw: Any) -> RightsAnswer:
    vocab = cp.vocabulary
    q = validate(raw, vocab.terms["fact"])
    right = q.right
    stated = [s for s in statements(cp) if s.right.right.id == right]
    conditions = [s.right.condition for s in stated]
    change = None
    if q.facts is None:
        req = requirement(cp, conditions)
        decision = "allow" if req is True else "deny" if req is False else "conditional"
        granting = stated if decision != "deny" else []
        requires = None if isinstance(req, bool) else logic.to_text(req)
    else:
        at = q.at or now()
        granting = [s for s in stated if rights_timed.grants(vocab, s.right.condition, q.facts, q.times, at)]
        decision = "allow" if granting else "deny"
        requires = None
        change = rights_timed.first_change(vocab, conditions, q.facts, q.times, at, bool(granting))
    rights = [s.right for s in granting]
    deadlines = [r.deadline for r in rights if r.deadline is not None]
    deadline = min(deadlines, key=lambda d: d.days) if deadlines else None
    extension = next((r.extension for r in rights if r.deadline is deadline and r.extension is not None), None)
    limits = [r for r in rights if r.limit is not None and r.per is not None]
    tight = min(limits, key=lambda r: (r.limit or 0) / max(r.per.days if r.per else 1, 1)) if limits else None
    return RightsAnswer(
        right=right, decision=decision, requires=requires,
        channels=tuple(dict.fromkeys(c for r in rights for c in r.channels)),
        deadline=deadline.iso() if deadline else None,
        extension=extension.iso() if extension else None,
        limit=f"{tight.limit} per {tight.per.iso()}" if tight and tight.per else None,
        until=rfc3339(change) if change is not None and granting else None,
        from_=rfc3339(change) if change is not None and not granting else None,
        exceptions=tuple(exceptions(cp, rights)),
        reasons=tuple(Reason(effect="allow", rule=" ".join(right_clauses(s.right)), file=cp.source.path,
                             line=s.line, section=s.section) for s in granting),
        policy=ref)


def requirement(cp: CompiledPolicy, conditions: list[ast.Condition | None]) -> logic.Requirement:
    """The facts under which some statement grants the right, simplified over closed assignments."""
    if not conditions:
        return False
    care = cp.vocabulary.care(logic.facts_of_all(conditions))
    return logic.requirement(conditions, [], care=care)


def exceptions(cp: CompiledPolicy, rights: list[ast.Right]) -> list[Reason]:
    """The allow rules that still permit what a granted right's `except` names (an action and,
    optionally, purposes), cited as reasons, in policy order."""
    wanted = [e for r in rights for e in r.exceptions]
    out = []
    for rule in cp.rules:
        if rule.effect != "allow":
            continue
        for e in wanted:
            if not (rule.action == e.action or e.action.startswith(rule.action + ".")):
                continue
            purposes = [p.id for p in e.purposes]
            if purposes and rule.purposes and not any(
                    p == rp or p.startswith(rp + ".") for p in purposes for rp in rule.purposes):
                continue
            out.append(Reason(effect="allow", rule=rule.text, file=rule.file, line=rule.line, section=rule.section,
                              basis=rule.basis))
            break
    return out
