"""Retention: may what we hold about a subject still be kept, and why? Two users of one question.

The question is the engine's `retain` question, asked for every purpose of the policy, with the
facts holding for the subject (closed world): an allow for some purpose means "keep", with the
rules that allow it; no allow means "delete now". The erasure plan asks it for one subject; the
sweep asks it once per distinct (category, source, set of facts) found by set-based SQL over all
subjects, then lists the subjects of the groups that are due with a second SQL query. Python never
loops over subjects.

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


def retain_verdict(policy: Any, category: str, source: str | None, facts: Iterable[str]) -> dict[str, Any]:
    """keep (and why, for which purposes, until when) or delete now, for one (category, source)."""
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
            keep.append({"purpose": purpose, "reasons": answer["reasons"]})
            untils.append(answer.get("until"))
    if not keep:
        return {"action": "delete_now", "why": "no rule allows keeping it for any purpose, given the facts that hold"}
    out: dict[str, Any] = {"action": "keep", "keep_for": keep}
    if untils and all(u is not None for u in untils):
        out["keep_until"] = max(u for u in untils if u is not None)
    return out


def erasure_plan(policy: Any, store: SubjectStore, subject: str, at: datetime | None = None) -> dict[str, Any]:
    """For each (data, source) held: delete now, or keep and the rule that still allows it."""
    held_facts, _ = store.facts_at(subject, at)
    facts = [h.fact for h in held_facts]
    rows = []
    for item in store.held(subject, at):
        rows.append({"data": item["category"], "source": item.get("source"),
                     "first_collected": item["first_collected"], "last_collected": item["last_collected"],
                     **retain_verdict(policy, item["category"], item.get("source"), facts)})
    return {"subject": subject, "facts": [h.to_dict() for h in held_facts], "plan": rows,
            "policy": {"name": policy.name, "digest": policy.digest}}


def _factset_sql(dialect: str) -> str:
    agg = "string_agg(fact, ',' ORDER BY fact)" if dialect == "postgresql" else "group_concat(fact, ',')"
    inner = latest_facts(dialect)
    if dialect != "postgresql":  # SQLite's group_concat keeps the order of its (ordered) input
        inner = f"SELECT * FROM ({inner}) ordered ORDER BY subject, fact"
    return f"""
WITH facts_now AS ({inner}),
factsets AS (SELECT subject, {agg} AS factset FROM facts_now GROUP BY subject),
held AS (SELECT subject, category, COALESCE(source, '') AS source, MAX(at) AS last_at
         FROM events WHERE kind = 'collected' AND at <= ? GROUP BY subject, category, source),
grouped AS (SELECT h.subject, h.category, h.source, h.last_at, COALESCE(f.factset, '') AS factset
            FROM held h LEFT JOIN factsets f ON f.subject = h.subject)
"""


def sweep(policy: Any, store: SubjectStore, at: datetime | None = None, limit: int = 1000) -> dict[str, Any]:
    """Every (subject, data, source) that may no longer be kept at `at`: one SQL pass puts each
    (subject, data, source) with the subject's facts into a temporary table; the verdict is asked
    once per distinct (data, source, facts) group; the due rows are read back from the table. One
    read transaction, so the groups and the rows are the same snapshot."""
    when = format_time(at or utc_now())
    pg = store.dialect == "postgresql"
    with store.backend.transaction(write=False) as tx:
        if not pg:  # a connection's temporary table outlives its transaction on SQLite
            tx.execute("DROP TABLE IF EXISTS temp.sweep_rows")
        tx.execute(("CREATE TEMP TABLE sweep_rows ON COMMIT DROP AS " if pg else "CREATE TEMP TABLE sweep_rows AS ")
                   + _factset_sql(store.dialect) + "SELECT subject, category, source, factset, last_at FROM grouped",
                   (when, when))
        groups = tx.execute("SELECT category, source, factset, COUNT(*) FROM sweep_rows "
                            "GROUP BY category, source, factset ORDER BY category, source, factset")
        due_groups, kept = [], []
        for category, source, factset, count in groups:
            facts = [f for f in factset.split(",") if f]
            verdict = retain_verdict(policy, category, source or None, facts)
            entry = {"data": category, "source": source or None, "facts": facts, "subjects": count, **verdict}
            (due_groups if verdict["action"] != "keep" else kept).append(entry)
        rows: list[tuple[Any, ...]] = []
        if due_groups:
            values = ", ".join("(?, ?, ?)" for _ in due_groups)
            params: list[Any] = []
            for g in due_groups:
                params += [g["data"], g["source"] or "", ",".join(g["facts"])]
            rows = tx.execute(f"WITH due (category, source, factset) AS (VALUES {values}) "
                              "SELECT r.subject, r.category, r.source, r.factset, r.last_at FROM sweep_rows r JOIN due d "
                              "ON d.category = r.category AND d.source = r.source AND d.factset = r.factset "
                              "ORDER BY r.subject, r.category, r.source LIMIT ?", [*params, limit])
        if not pg:
            tx.execute("DROP TABLE temp.sweep_rows")
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
