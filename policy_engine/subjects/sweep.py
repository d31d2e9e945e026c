"""The retention sweep: every (subject, data, source) that may no longer be kept at an instant, with
the rule and the deadline, and what becomes due in the next N days. Set-based SQL; Python asks the
policy once per group and never loops over subjects.

The rows (one per subject, data and source: its facts holding and its last collection) come from
the current tables (current.py), or, for a subject whose latest event is after the instant, from
its events up to it. Time limits (docs/semantics.md) are atoms "anchor less than D ago", the anchor being
the collection or a fact's start, so the answer for a row changes only where an anchor's age
crosses one of the policy's durations. SQL therefore groups the rows by (data, source, facts
holding, and for each anchor how many of the durations its age has passed): every row of a group
gets the same answer, which the policy gives for one representative (the group's earliest anchor
times). When a group's keeping ends by a limit, the limit is found from the representative's
`until` (its anchor and duration), and each row's deadline is its own anchor time plus that
duration. "Due within N days" groups by the ages at the later instant as well: a kept group the
policy would not keep then is upcoming, all its rows together, counted by the group's count.
What becomes due assumes no new event meanwhile (a consent withdrawn later is not foreseen).

Exact when each fact a question holds implies at most one anchor fact (a fact implying two anchors
is given the earlier anchor's time for both).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from policy_engine.language import logic, timelimits
from policy_engine.subjects.model import format_time, parse_stored, show_time, utc_now
from policy_engine.subjects.retention import retain_verdict
from policy_engine.subjects.store import SubjectStore, latest_facts

_TERM = re.compile(r"[A-Za-z0-9_.\-]+")  # a policy term: safe to write into SQL as a literal
_LATER = "SELECT subject FROM current_subjects WHERE last_at > ?"


def anchors(policy: Any) -> dict[str, list[int]]:
    """Each anchor of the policy's time limits (`collected`, or a fact) -> its durations in days."""
    found: dict[str, set[int]] = {}
    for rule in policy.compiled.rules:
        for name in logic.facts_of(rule.condition):
            read = timelimits.atom_days(name)
            if read is not None:
                found.setdefault(read[0], set()).add(read[1])
    return {a: sorted(d) for a, d in sorted(found.items())}


def _implying(policy: Any, fact: str) -> list[str]:
    vocab = policy.compiled.vocabulary
    return sorted(f for f in vocab.terms["fact"] if fact in vocab.close(frozenset({f})))


def _literal(term: str) -> str:
    if _TERM.fullmatch(term) is None:
        raise ValueError(f"not a policy term: {term!r}")
    return f"'{term}'"


def _rows_sql(dialect: str, facts: dict[str, list[str]]) -> list[tuple[str, int]]:
    """(the rows' SQL, how many times it takes `at`): fast part, slow part. Columns: subject,
    category, source, factset, last_at, then one start time per anchor fact (NULL: not holding)."""
    def starts(table: str, who: str, begin_only: str) -> tuple[str, str]:
        """The anchor columns, as left joins on each anchor fact's earliest start per subject."""
        cols, joins = [], []
        for i, implied in enumerate(facts.values()):
            cols.append(f", f{i}.at AS a{i}")
            joins.append(f" LEFT JOIN (SELECT subject, MIN(at) AS at FROM {table} WHERE fact IN "
                         f"({', '.join(_literal(f) for f in implied)}){begin_only} GROUP BY subject) f{i} "
                         f"ON f{i}.subject = {who}")
        return "".join(cols), "".join(joins)
    last = "+s.last_at" if dialect == "sqlite" else "s.last_at"  # SQLite: a full scan in key order, not the index
    fast_cols, fast_joins = starts("current_facts", "d.subject", " AND kind = 'begin'")
    slow_cols, slow_joins = starts("facts_then", "h.subject", "")
    fast = (f"SELECT d.subject, d.category, d.source, s.factset, d.last_at{fast_cols} "
            f"FROM current_subjects s JOIN current_data d ON d.subject = s.subject{fast_joins} WHERE {last} <= ?")
    agg = "string_agg(fact, ',' ORDER BY fact)" if dialect == "postgresql" else "group_concat(fact, ',')"
    inner = latest_facts(dialect, f"AND subject IN ({_LATER})")
    if dialect != "postgresql":  # SQLite's group_concat keeps the order of its (ordered) input
        inner = f"SELECT * FROM ({inner}) ordered ORDER BY subject, fact"
    slow = f"""
WITH facts_then AS ({inner}),
factsets AS (SELECT subject, {agg} AS factset FROM facts_then GROUP BY subject),
held AS (SELECT subject, category, COALESCE(source, '') AS source, MAX(at) AS last_at FROM events
         WHERE kind = 'collected' AND at <= ? AND subject IN ({_LATER}) GROUP BY subject, category, COALESCE(source, ''))
SELECT h.subject, h.category, h.source, COALESCE(f.factset, '') AS factset, h.last_at{slow_cols}
FROM held h LEFT JOIN factsets f ON f.subject = h.subject{slow_joins}"""
    return [(fast, 1), (slow, 4)]


class _Plan:
    """The anchors' columns, and the SQL of each row's bucket per anchor at an instant."""

    def __init__(self, policy: Any, at: datetime):
        limits = anchors(policy)
        self.collected = limits.pop(timelimits.COLLECTED, [])
        self.facts = {f: _implying(policy, f) for f in limits}
        self.days = limits
        self.columns = ["last_at"] + [f"a{i}" for i in range(len(self.facts))]
        self.durations = [self.collected] + [limits[f] for f in self.facts]
        self.at = at

    def buckets(self, instant: datetime) -> list[str]:
        """Per anchor column: how many of its durations its age has reached at `instant`
        (`anchor <= instant - D`)."""
        out = []
        for column, durations in zip(self.columns, self.durations):
            terms = [f"CASE WHEN r.{column} <= '{format_time(instant - timedelta(days=d))}' THEN 1 ELSE 0 END"
                     for d in durations]
            out.append(" + ".join(terms) if terms else "0")
        return out

    def question(self, factset: str, times: list[str | None]) -> tuple[dict[str, Any], str]:
        """A representative's facts (with their start times where a fact implies an anchor) and collection."""
        facts: dict[str, Any] = {}
        for f in (f for f in factset.split(",") if f):
            begun = [t for (anchor, implied), t in zip(self.facts.items(), times[1:]) if f in implied and t]
            facts[f] = show_time(min(begun)) if begun else True
        return facts, show_time(times[0] or "")


def _ends(plan: _Plan, times: list[str | None], until: str | None) -> tuple[int, int] | None:
    """Which anchor column and duration (days) end a representative's keeping at `until`."""
    if until is None:
        return None
    end = parse_stored(format_time(datetime.fromisoformat(until.replace("Z", "+00:00"))))
    for col, (time, durations) in enumerate(zip(times, plan.durations)):
        for d in durations:
            if time and parse_stored(time) + timedelta(days=d) == end:
                return col, d
    return None


def sweep(policy: Any, store: SubjectStore, at: datetime | None = None, limit: int = 1000,
          within_days: int | None = None) -> dict[str, Any]:
    """What may no longer be kept at `at` (default now); with `within_days`, also what becomes due
    in that many days after it. One snapshot (REPEATABLE READ on PostgreSQL), so counts and rows agree."""
    when = at or utc_now()
    stamp = format_time(when)
    plan = _Plan(policy, when)
    parts = _rows_sql(store.dialect, plan.facts)
    later = when + timedelta(days=within_days) if within_days is not None else None
    bucket_cols = ", ".join(f"{b} AS b{i}" for i, b in enumerate(plan.buckets(when)))
    key_cols = ["category", "source", "factset"] + [f"b{i}" for i in range(len(plan.columns))]
    if later is not None:  # the ages at the later instant too: a group's rows become due together
        bucket_cols += ", " + ", ".join(f"{b} AS c{i}" for i, b in enumerate(plan.buckets(later)))
        key_cols += [f"c{i}" for i in range(len(plan.columns))]
    mins = ", ".join(f"MIN({c})" for c in plan.columns)
    groups: dict[tuple[Any, ...], list[Any]] = {}
    with store.backend.transaction(write=False, snapshot=True) as tx:
        for sql, times in parts:
            bucketed = f"SELECT r.*, {bucket_cols} FROM ({sql}) r"
            for row in tx.execute(f"SELECT {', '.join(key_cols)}, COUNT(*), {mins} FROM ({bucketed}) g "
                                  f"GROUP BY {', '.join(key_cols)}", [stamp] * times):
                key, count, reps = tuple(row[:len(key_cols)]), int(row[len(key_cols)]), list(row[len(key_cols) + 1:])
                seen = groups.get(key)
                if seen is None:
                    groups[key] = [count, reps]
                else:  # the same group in both parts: counts add up, the earliest anchors represent it
                    seen[0] += count
                    seen[1] = [min(x for x in pair if x) if any(pair) else None for pair in zip(seen[1], reps)]
        due, kept, soon = [], [], []
        for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
            count, reps = groups[key]
            category, source, factset = key[:3]
            facts, collected = plan.question(factset, reps)
            verdict = retain_verdict(policy, category, source or None, facts, collected_at=collected,
                                     at=show_time(stamp))
            entry: dict[str, Any] = {"data": category, "source": source or None, "facts": sorted(facts),
                                     "subjects": count, **verdict}
            if verdict["action"] == "keep":
                kept.append(entry)
                ends = _ends(plan, reps, verdict.get("keep_until"))
                if ends is not None:
                    entry["ends"] = _describe(plan, ends)
                if later is not None and retain_verdict(policy, category, source or None, facts, collected_at=collected,
                                                        at=show_time(format_time(later)))["action"] != "keep":
                    entry["due_within_days"] = True
                    soon.append((key, ends, entry))
            else:
                ends = _ended(policy, plan, category, source, facts, reps)
                if ends is not None:
                    entry["ended"] = _describe(plan, ends)
                due.append((key, ends, entry))
        items = _list(tx, parts, stamp, key_cols, bucket_cols, plan, due, limit)
        upcoming = _list(tx, parts, stamp, key_cols, bucket_cols, plan, soon, limit) if later is not None else None
    total = items[1]
    out: dict[str, Any] = {"at": show_time(stamp), "due": total, "items": items[0], "truncated": total > len(items[0]),
                           "groups": {"due": [e for _, _, e in due], "kept": kept},
                           "policy": {"name": policy.name, "digest": policy.digest}}
    if upcoming is not None and later is not None:
        rows, count = upcoming
        out["upcoming"] = {"within_days": within_days, "until": show_time(format_time(later)),
                           "count": count, "items": rows, "truncated": count > len(rows)}
    return out


def _describe(plan: _Plan, ends: tuple[int, int]) -> dict[str, Any]:
    col, days = ends
    anchor = timelimits.COLLECTED if col == 0 else list(plan.facts)[col - 1]
    return {"anchor": anchor, "days": days}


def _ended(policy: Any, plan: _Plan, category: str, source: str, facts: dict[str, Any],
           reps: list[str | None]) -> tuple[int, int] | None:
    """For a due group: the limit that ended keeping, read off the representative asked at the
    moment it was complete (its latest anchor time), when it was kept then."""
    present = [t for t in reps if t]
    if not present or not any(plan.durations):
        return None
    start = max(present)
    verdict = retain_verdict(policy, category, source or None, facts, collected_at=show_time(reps[0] or start),
                             at=show_time(start))
    return _ends(plan, reps, verdict.get("keep_until")) if verdict["action"] == "keep" else None


def _list(tx: Any, parts: list[tuple[str, int]], stamp: str, key_cols: list[str], bucket_cols: str, plan: _Plan,
          chosen: list[tuple[tuple[Any, ...], tuple[int, int] | None, dict[str, Any]]],
          limit: int) -> tuple[list[dict[str, Any]], int]:
    """The rows of the chosen groups (the first `limit`, in subject order) and how many there are
    (the groups' counts), each with its deadline where a limit ends it: its anchor + the duration."""
    if not chosen:
        return [], 0
    values = ", ".join("(" + ", ".join("?" for _ in key_cols) + ", ?, ?)" for _ in chosen)
    params: list[Any] = []
    for key, ends, _ in chosen:
        params += [*key, *(ends if ends is not None else (-1, 0))]
    anchor = "CASE k.col " + " ".join(f"WHEN {i} THEN r.{c}" for i, c in enumerate(plan.columns)) + " END"
    match = " AND ".join(f"k.{c} = r.{c}" for c in key_cols)
    head = f"WITH chosen ({', '.join(key_cols)}, col, days) AS (VALUES {values}) "
    rows: list[tuple[Any, ...]] = []
    for sql, times in parts:
        rows += tx.execute(head + f"SELECT r.subject, r.category, r.source, r.factset, r.last_at, k.col, k.days, "
                           f"{anchor}, {', '.join('r.' + c for c in key_cols[3:])} "
                           f"FROM (SELECT r.*, {bucket_cols} FROM ({sql}) r) r JOIN chosen k ON {match} "
                           "ORDER BY r.subject, r.category, r.source LIMIT ?", [*params, *([stamp] * times), limit])
    rows = sorted(rows, key=lambda r: (r[0], r[1], r[2]))[:limit]  # at most 2 x limit: the parts merged
    verdicts = {tuple(str(x) for x in key): entry for key, _, entry in chosen}
    out = []
    for r in rows:
        entry = verdicts[tuple(str(x) for x in (r[1], r[2], r[3], *r[8:]))]
        item: dict[str, Any] = {"subject": r[0], "data": r[1], "source": r[2] or None,
                                "last_collected": show_time(r[4]), "action": entry["action"]}
        if entry.get("why"):
            item["why"] = entry["why"]
        if r[5] >= 0 and r[7]:
            item["deadline"] = show_time(format_time(parse_stored(r[7]) + timedelta(days=r[6])))
        out.append(item)
    return out, sum(entry["subjects"] for _, _, entry in chosen)
