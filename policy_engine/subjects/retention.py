"""Retention: may what we hold about a subject still be kept, and why? Two users of one question.

The question is the engine's `retain` question, asked for every purpose of the policy, with the
facts holding for the subject (closed world, each with the time it began), the data's collection
time and the instant (docs/semantics.md): an allow for some purpose means "keep", with the rules that allow
it; no allow means "delete now". The erasure plan asks it for one subject (here); the sweep asks
it once per group of rows that must get the same answer (sweep.py).

Deadlines: a kept purpose whose allow ends by a time limit carries the engine's `until`; a row
whose purposes all end carries `keep_until`, the latest of them. An allow without an end says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from policy_engine.engine.query import QueryError
from policy_engine.subjects.model import format_time, show_time, utc_now
from policy_engine.subjects.store import SubjectStore


def purposes(policy: Any) -> list[str]:
    return [t["id"] for t in policy.vocabulary().get("purpose", [])]


def retain_verdict(policy: Any, category: str, source: str | None, facts: Iterable[str] | Mapping[str, Any],
                   lasting: bool = False, collected_at: str | None = None, at: str | None = None) -> dict[str, Any]:
    """keep (and why, for which purposes, until when) or delete now, for one (category, source).
    `facts`: a list, or fact -> the time it began (docs/semantics.md); `collected_at`, `at`: RFC 3339.
    `lasting`: say for each purpose kept how long it lasts (`until` from the engine, else `while`
    the condition the rule needs holds, else no end stated), at one more question per purpose."""
    given: Any = dict(sorted(facts.items())) if isinstance(facts, Mapping) else sorted(facts)
    keep: list[dict[str, Any]] = []
    untils: list[str | None] = []
    for purpose in purposes(policy):
        query: dict[str, Any] = {"action": "retain", "data": category, "purpose": purpose, "facts": given}
        if source is not None:
            query["source"] = source
        if collected_at is not None:
            query["collected_at"] = collected_at
        if at is not None:
            query["at"] = at
        try:
            answer = policy.decide(query).to_dict()
        except QueryError as err:  # a category or source the policy does not declare
            return {"action": "review", "why": err.one_line()}
        if answer["decision"] == "allow":
            entry: dict[str, Any] = {"purpose": purpose, "reasons": answer["reasons"]}
            if lasting:
                entry.update(_lasts(policy, query, answer))
            keep.append(entry)
            untils.append(answer.get("until"))
    if not keep:
        return {"action": "delete_now", "why": "no rule allows keeping it for any purpose, given the facts that hold"}
    out: dict[str, Any] = {"action": "keep", "keep_for": keep}
    if untils and all(u is not None for u in untils):
        out["keep_until"] = max(u for u in untils if u is not None)
    return out


def _lasts(policy: Any, query: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    if answer.get("until"):
        return {"until": answer["until"], "lasts": f"until {answer['until']}"}
    partial = policy.decide({k: v for k, v in query.items() if k not in ("facts", "collected_at", "at")}).to_dict()
    if partial.get("requires"):
        return {"while": partial["requires"], "lasts": f"while {partial['requires']} holds"}
    return {"lasts": "no end stated by the policy"}


def _covers(data: list[str] | None, category: str) -> bool:
    """A retention statement on `data` (None: all data) speaks of `category` or a wider term of it."""
    return data is None or any(category == d or category.startswith(d + ".") for d in data)


LEGAL_OBLIGATION = "legal_obligation"


def after_erasure(verdict: dict[str, Any], exceptions: list[dict[str, Any]]) -> dict[str, Any]:
    """What an erasure request leaves of a keep verdict. Kept: what a rule the granted rights'
    `except` clauses name allows; when they name none, what a rule with basis legal_obligation
    allows (GDPR Art. 17(3)(b): erasure does not reach data a legal obligation requires). The
    other allowing rules yield to the request and are listed as such."""
    if verdict["action"] != "keep":
        return verdict
    named = {(e["file"], e["line"]): e["rights"] for e in exceptions}
    kept, yields = [], []
    for entry in verdict["keep_for"]:
        hit = [r for r in entry["reasons"] if (r["file"], r["line"]) in named]
        if exceptions and hit:
            kept.append({**entry, "kept_by": "an exception of the right " + ", ".join(
                f"`{x}`" for x in named[(hit[0]["file"], hit[0]["line"])])})
        elif not exceptions and any(r.get("basis") == LEGAL_OBLIGATION for r in entry["reasons"]):
            kept.append({**entry, "kept_by": "a legal obligation (the erasure does not reach it)"})
        else:
            yields.append(entry)
    if not kept:
        return {"action": "delete_now", "why": "the erasure request ends every rule that allowed keeping it",
                "yields_to_request": yields}
    out: dict[str, Any] = {"action": "keep", "keep_for": kept, "yields_to_request": yields}
    untils = [k.get("until") for k in kept]
    if all(untils):
        out["keep_until"] = max(u for u in untils if u)
    return out


def erasure_plan(policy: Any, store: SubjectStore, subject: str, at: datetime | None = None,
                 exceptions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """For each (data, source) held: delete now, or keep, until when, and the rule that still allows
    it. With `exceptions` (an erasure request's: entitlement.Entitlement.exceptions), only what
    survives the request is kept (after_erasure); without, what the policy allows today."""
    when = at or utc_now()
    held_facts, _ = store.facts_at(subject, when)
    facts = {h.fact: show_time(h.since) for h in held_facts}
    periods = policy.statements().get("retention", [])
    rows = []
    for item in store.held(subject, at):
        verdict = retain_verdict(policy, item["category"], item.get("source"), facts, lasting=True,
                                 collected_at=item["last_collected"], at=show_time(format_time(when)))
        if exceptions is not None:
            verdict = after_erasure(verdict, exceptions)
        row = {"data": item["category"], "source": item.get("source"), "first_collected": item["first_collected"],
               "last_collected": item["last_collected"], **verdict}
        said = [p["period"] for p in periods if _covers(p["data"], item["category"])]
        if said:  # the policy's own words on how long, for the DPO reading the plan
            row["retention_statement"] = said
        rows.append(row)
    out = {"subject": subject, "at": show_time(format_time(when)), "facts": [h.to_dict() for h in held_facts],
           "plan": rows, "policy": {"name": policy.name, "digest": policy.digest}}
    if exceptions is not None:
        out["exceptions"] = exceptions
    return out
