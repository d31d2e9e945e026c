"""Retention: may what we hold about a subject still be kept, and why? Two users of one question.

The question is the engine's `retain` question, asked for every purpose of the policy, with the
facts holding for the subject (closed world): an allow for some purpose means "keep", with the
rules that allow it; no allow means "delete now". The erasure plan asks it for one subject; the
sweep asks it once per distinct (category, source, set of facts) found by set-based SQL over all
subjects (the current tables of current.py, and the events for a subject whose latest event is
after the sweep's instant), then lists the subjects of the groups that are due with a second SQL
query. Python never loops over subjects.

Deadlines: when the engine gives retain answers an `until` (timed rules), each kept row carries
`keep_until` = the latest `until` of the purposes that allow it; rows whose allows all end are due
at that date. Until then an allow has no end and `keep_until` is absent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from policy_engine.engine.query import QueryError
from policy_engine.subjects.model import format_time, show_time, utc_now
from policy_engine.subjects.store import SubjectStore, latest_facts


def purposes(policy: Any) -> list[str]:
    return [t["id"] for t in policy.vocabulary().get("purpose", [])]


def retain_verdict(policy: Any, category: str, source: str | None, facts: Iterable[str],
                   lasting: bool = False) -> dict[str, Any]:
    """keep (and why, for which purposes, until when) or delete now, for one (category, source).
    `lasting`: say for each purpose kept how long it lasts (`until` from the engine, else `while`
    the condition the rule needs holds, else no end stated), at one more question per purpose."""
    facts = sorted(facts)
    keep: list[dict[str, Any]] = []
    untils: list[str | None] = []
    for purpose in purposes(policy):
        query = {"action": "retain", "data": category, "purpose": purpose, "facts": facts}
        if source is not None:
            query["source"] = source
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
    partial = policy.decide({k: v for k, v in query.items() if k != "facts"}).to_dict()
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
    held_facts, _ = store.facts_at(subject, at)
    facts = [h.fact for h in held_facts]
    periods = policy.statements().get("retention", [])
    rows = []
    for item in store.held(subject, at):
        verdict = retain_verdict(policy, item["category"], item.get("source"), facts, lasting=True)
        if exceptions is not None:
            verdict = after_erasure(verdict, exceptions)
        row = {"data": item["category"], "source": item.get("source"), "first_collected": item["first_collected"],
               "last_collected": item["last_collected"], **verdict}
        said = [p["period"] for p in periods if _covers(p["data"], item["category"])]
        if said:  # the policy's own words on how long, for the DPO reading the plan
            row["retention_statement"] = said
        rows.append(row)
    out = {"subject": subject, "at": show_time(format_time(at or utc_now())), "facts": [h.to_dict() for h in held_facts],
           "plan": rows, "policy": {"name": policy.name, "digest": policy.digest}}
    if exceptions is not None:
        out["exceptions"] = exceptions
    return out


# The rows the sweep reads, as (subject, category, source, factset, last_at). `fast`: subjects whose
# latest event is at or before `at`, straight from the current tables (current.py). `slow`: the
# others, whose state at `at` is read from the events up to `at`. Their first parameter is `at`.
_FAST = ("SELECT d.subject, d.category, d.source, s.factset, d.last_at FROM current_subjects s "
         "JOIN current_data d ON d.subject = s.subject WHERE {last} <= ?")
_LATER = "SELECT subject FROM current_subjects WHERE last_at > ?"


def _slow_sql(dialect: str) -> str:
    agg = "string_agg(fact, ',' ORDER BY fact)" if dialect == "postgresql" else "group_concat(fact, ',')"
    inner = latest_facts(dialect, f"AND subject IN ({_LATER})")
    if dialect != "postgresql":  # SQLite's group_concat keeps the order of its (ordered) input
        inner = f"SELECT * FROM ({inner}) ordered ORDER BY subject, fact"
    return f"""
WITH facts_then AS ({inner}),
factsets AS (SELECT subject, {agg} AS factset FROM facts_then GROUP BY subject),
held AS (SELECT subject, category, COALESCE(source, '') AS source, MAX(at) AS last_at FROM events
         WHERE kind = 'collected' AND at <= ? AND subject IN ({_LATER}) GROUP BY subject, category, COALESCE(source, ''))
SELECT h.subject, h.category, h.source, COALESCE(f.factset, '') AS factset, h.last_at
FROM held h LEFT JOIN factsets f ON f.subject = h.subject"""


def _parts(dialect: str) -> list[tuple[str, int]]:
    """(the rows' SQL, how many times it takes `at`), fast part first. SQLite's planner is kept off
    the last_at index for the fast part (every row matches: a full scan in key order is cheaper)."""
    last = "+s.last_at" if dialect == "sqlite" else "s.last_at"
    return [(_FAST.format(last=last), 1), (_slow_sql(dialect), 4)]


def sweep(policy: Any, store: SubjectStore, at: datetime | None = None, limit: int = 1000) -> dict[str, Any]:
    """Every (subject, data, source) that may no longer be kept at `at`: set-based SQL counts the
    rows per distinct (data, source, facts holding) group; the verdict is asked once per group;
    the due rows are listed by a second SQL pass joined to the due groups. One snapshot (a read
    transaction; REPEATABLE READ on PostgreSQL), so the counts and the rows agree."""
    when = format_time(at or utc_now())
    counts: dict[tuple[str, str, str], int] = {}
    rows: list[tuple[Any, ...]] = []
    with store.backend.transaction(write=False, snapshot=True) as tx:
        parts = _parts(store.dialect)
        for sql, times in parts:
            for category, source, factset, count in tx.execute(
                    f"SELECT category, source, factset, COUNT(*) FROM ({sql}) r GROUP BY category, source, factset",
                    [when] * times):
                key = (category, source, factset)
                counts[key] = counts.get(key, 0) + int(count)
        due_groups, kept = [], []
        for category, source, factset in sorted(counts):
            facts = [f for f in factset.split(",") if f]
            verdict = retain_verdict(policy, category, source or None, facts)
            entry = {"data": category, "source": source or None, "facts": facts,
                     "subjects": counts[(category, source, factset)], **verdict}
            (due_groups if verdict["action"] != "keep" else kept).append(entry)
        if due_groups:
            values = ", ".join("(?, ?, ?)" for _ in due_groups)
            params: list[Any] = []
            for g in due_groups:
                params += [g["data"], g["source"] or "", ",".join(g["facts"])]
            for sql, times in parts:
                rows += tx.execute(f"WITH due (category, source, factset) AS (VALUES {values}) "
                                   f"SELECT r.subject, r.category, r.source, r.factset, r.last_at FROM ({sql}) r "
                                   "JOIN due d ON d.category = r.category AND d.source = r.source AND "
                                   "d.factset = r.factset ORDER BY r.subject, r.category, r.source LIMIT ?",
                                   [*params, *([when] * times), limit])
    rows = sorted(rows)[:limit]  # at most 2 x limit rows: the two parts' first rows, merged
    total = sum(g["subjects"] for g in due_groups)  # the groups' counts are the rows due
    verdicts = {(g["data"], g["source"] or "", ",".join(g["facts"])): g for g in due_groups}
    items = []
    for subject, category, source, factset, last_at in rows:
        g = verdicts[(category, source, factset)]
        items.append({"subject": subject, "data": category, "source": source or None,
                      "last_collected": show_time(last_at), "action": g["action"], "why": g["why"]})
    return {"at": show_time(when), "due": total, "items": items, "truncated": total > len(items),
            "groups": {"due": due_groups, "kept": kept},
            "policy": {"name": policy.name, "digest": policy.digest}}
