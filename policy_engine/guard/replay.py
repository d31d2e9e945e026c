"""Replay of real traffic against a policy change. In: the SQLite decision log `serve` writes
(opened read-only) and the new Policy. Out: a Replay: how many logged decisions the new policy
answers differently, widened or narrowed, grouped by the rules (and sections) that decide the
new answer, with examples and the share of traffic affected.

Why the log and not the question space: `diff` says which questions *can* change; the log says
which the services really asked and how often, so a reviewer sees "12% of last week's
decisions would now be allowed" rather than "40 questions widened".

Fast on big logs because services repeat questions: SQLite groups the rows by (query, logged
answer) in C, each distinct question is answered once (the Policy memoises too), and each
distinct pair of old and new answer is compared once. A row widens when some fact set is
allowed now and was not before (facts given: allowed now, not before; facts unknown: the
truth tables of both requirements, as `diff` compares them); narrowed the other way round.
A question the new policy cannot ask any more (a term removed or renamed) is counted apart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from policy_engine.engine.policy import Policy
from policy_engine.engine.query import Decision, QueryError
from policy_engine.language import logic
from policy_engine.language.diagnostics import PolicyError

EXAMPLES = 3  # examples kept per group, the most frequent first

_GROUPED = """
SELECT g.query, a.decision, a.requires, a.rules, g.n
FROM (SELECT query, answer, count(*) AS n FROM ({pairs}) GROUP BY query, answer) AS g
JOIN answers AS a ON {answer}
"""
# The logged answer of a group: its key, or (a batch row of version 4) its id in `answers`; looked up
# once per group, not per decision.
_BY_KEY = "a.key = g.answer"
_BY_ID_OR_KEY = ("a.id = CASE WHEN typeof(g.answer) = 'integer' THEN g.answer "
                 "ELSE (SELECT id FROM answers WHERE key = g.answer) END")
_TOTAL = "SELECT sum({count}), min(d.ts), max(d.ts) FROM decisions AS d {where}"
# (query, answer key or id) per decision. Version 3 (server/log_schema.py, which guard may not import:
# the layers keep guard and server apart) adds batch rows: `n` set, `query` the JSON array of the
# decisions' ids in `queries`, `answer` the JSON array of their answer keys; version 4 gives answers
# an `id`, which its batch rows hold instead of the keys; version 5's batch rows name each decision
# by its id in `pairs` (query id, answer id), in `query`, and leave `answer` ''.
# `+d.answer`: no column affinity, which the grouped pairs would otherwise take from this first half and
# apply to the ids of the second (turning them into text that no key matches).
_PAIRS_ONE = "SELECT d.query AS query, +d.answer AS answer FROM decisions AS d WHERE {one}"
_PAIRS_MANY = ("SELECT q.query AS query, json_extract(d.answer, '$[' || r.key || ']') AS answer "
               "FROM decisions AS d JOIN json_each(d.query) AS r JOIN queries AS q ON q.id = r.value "
               "WHERE d.n IS NOT NULL AND d.answer <> ''{cond}")
_PAIRS_PAIRED = ("SELECT q.query AS query, p.answer AS answer "
                 "FROM decisions AS d JOIN json_each(d.query) AS r JOIN pairs AS p ON p.id = r.value "
                 "JOIN queries AS q ON q.id = p.query WHERE d.n IS NOT NULL AND d.answer = ''{cond}")


class LogError(ValueError):
    """The decision log cannot be read: the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class Answer:
    decision: str  # allow | deny | conditional
    requires: str | None = None

    def requirement(self) -> logic.Requirement:
        if self.decision == "conditional" and self.requires:
            return logic.parse_condition(self.requires)
        return self.decision == "allow"

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "requires": self.requires}


@dataclass(frozen=True)
class RuleRef:
    effect: str
    rule: str
    file: str
    line: int
    section: str
    basis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Example:
    query: dict[str, Any]
    before: Answer
    after: Answer
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "before": self.before.to_dict(), "after": self.after.to_dict(),
                "decisions": self.rows}


@dataclass
class Group:
    """Logged decisions that changed alike: same direction, decided now by the same rules (or,
    when nothing decides the new answer, no longer decided by the same old rules)."""

    mark: str  # widened | narrowed | widened and narrowed
    rules: tuple[RuleRef, ...]
    now: bool  # True: `rules` decide the new answer; False: they decided the old one, and no rule does now
    rows: int = 0
    examples: list[Example] = field(default_factory=list)
    texts: set[str] = field(default_factory=set, repr=False)  # the distinct questions

    @property
    def questions(self) -> int:
        return len(self.texts)

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(r.section for r in self.rules)) or ["(no rule)"]

    def to_dict(self, total: int) -> dict[str, Any]:
        return {"mark": self.mark, "decisions": self.rows, "share": _share(self.rows, total),
                "questions": self.questions, "rules_now" if self.now else "rules_before":
                [r.to_dict() for r in self.rules], "sections": self.sections,
                "examples": [e.to_dict() for e in self.examples]}


@dataclass
class Unanswerable:
    query: dict[str, Any]
    error: str
    rows: int


@dataclass
class Replay:
    log: str
    policy: str
    digest: str
    since: float | None
    rows: int = 0
    questions: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    widened: int = 0  # rows
    narrowed: int = 0
    changed: int = 0
    groups: list[Group] = field(default_factory=list)
    unanswerable: list[Unanswerable] = field(default_factory=list)

    @property
    def unanswerable_rows(self) -> int:
        return sum(u.rows for u in self.unanswerable)

    @property
    def share(self) -> float:
        return _share(self.changed, self.rows)

    def sections(self) -> dict[str, dict[str, int]]:
        """Rows per section of the deciding rules: {"Marketing": {"widened": n, "narrowed": m}}."""
        out: dict[str, dict[str, int]] = {}
        for g in self.groups:
            for s in g.sections:
                counts = out.setdefault(s, {"widened": 0, "narrowed": 0})
                for word in ("widened", "narrowed"):
                    if word in g.mark:
                        counts[word] += g.rows
        return dict(sorted(out.items(), key=lambda kv: -(kv[1]["widened"] + kv[1]["narrowed"])))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


# ---- reading the log ------------------------------------------------------------------------


def connect(path: str | Path) -> sqlite3.Connection:
    """The log, read-only (`mode=ro`: never created, never written, safe beside a running server)."""
    p = Path(path)
    if not p.is_file():
        raise LogError(f"no decision log at {path} (name the file `serve --decision-log` writes)")
    try:
        conn = sqlite3.connect(f"file:{pathname2url(str(p.resolve()))}?mode=ro", uri=True)
        conn.execute("PRAGMA query_only = ON")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise LogError(f"cannot read {path}: {err} (is it a SQLite decision log?)") from None
    missing = {"decisions", "answers"} - tables
    if missing:
        conn.close()
        raise LogError(f"{path} is not a decision log: it has no table {', '.join(sorted(missing))} "
                       "(name the file `serve --decision-log` writes)")
    return conn


def read_log(conn: sqlite3.Connection, since: float | None = None,
             until: float | None = None) -> tuple[tuple[int, float | None, float | None], Iterator[tuple[Any, ...]]]:
    """((rows, first ts, last ts), an iterator of (query JSON, decision, requires, rules JSON, rows)).
    A batch row (log_schema.py) counts as its decisions, each with its own query and answer."""
    clauses, params = [], {}
    if since is not None:
        clauses.append("d.ts >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("d.ts < :until")
        params["until"] = until
    cond = " AND ".join(clauses)
    try:
        batches = "n" in {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
        if batches:
            pairs = (_PAIRS_ONE.format(one="d.n IS NULL" + (" AND " + cond if cond else "")) + " UNION ALL "
                     + _PAIRS_MANY.format(cond=" AND " + cond if cond else ""))
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pairs'").fetchone():
                pairs += " UNION ALL " + _PAIRS_PAIRED.format(cond=" AND " + cond if cond else "")
        else:
            pairs = _PAIRS_ONE.format(one=cond or "1")
        total = conn.execute(_TOTAL.format(count="coalesce(d.n, 1)" if batches else "1",
                                           where="WHERE " + cond if cond else ""), params).fetchone()
        ids = "id" in {row[1] for row in conn.execute("PRAGMA table_info(answers)")}
        return total, conn.execute(_GROUPED.format(pairs=pairs, answer=_BY_ID_OR_KEY if ids else _BY_KEY), params)
    except sqlite3.DatabaseError as err:
        raise LogError(f"cannot read the decision log: {err}") from None


# ---- replaying ------------------------------------------------------------------------------


def compare(before: Answer, after: Answer) -> tuple[bool, bool] | None:
    """(widened, narrowed), or None when every fact set gets the same answer."""
    if before == after:
        return None
    a, b = before.requirement(), after.requirement()
    names = sorted(logic.facts_of_all([x for x in (a, b) if not isinstance(x, bool)]))
    ta, tb = logic.truth_table(a, names), logic.truth_table(b, names)
    if ta == tb:
        return None
    return bool(tb & ~ta), bool(ta & ~tb)


def _refs(reasons: Any) -> tuple[RuleRef, ...]:
    return tuple(RuleRef(r["effect"], r["rule"], r["file"], r["line"], r["section"], r.get("basis")) for r in reasons)


def replay(log_path: str | Path, policy: Policy, policy_path: str, since: float | None = None,
           until: float | None = None) -> Replay:
    """Answer every logged question again under `policy` and compare with the logged answer."""
    conn = connect(log_path)
    try:
        (rows, first, last), grouped = read_log(conn, since, until)
        result = Replay(str(log_path), policy_path, policy.digest, since, rows or 0, 0, first, last)
        _replay_rows(result, policy, grouped)
    finally:
        conn.close()
    result.groups.sort(key=lambda g: (-("widened" in g.mark), -g.rows))
    result.unanswerable.sort(key=lambda u: -u.rows)
    return result


def _replay_rows(result: Replay, policy: Policy, grouped: Iterator[tuple[Any, ...]]) -> None:
    verdicts: dict[tuple[Answer, Answer], tuple[bool, bool] | None] = {}
    after_of: dict[int, tuple[Answer, tuple[RuleRef, ...]]] = {}  # id(Decision) -> its Answer and rules
    groups: dict[tuple[str, tuple[RuleRef, ...], bool], Group] = {}
    unanswerable: dict[tuple[str, str], Unanswerable] = {}
    seen: set[str] = set()
    decide = policy.decide
    for text, decision, requires, rules, n in grouped:
        seen.add(text)
        try:
            query = json.loads(text)
            new: Decision = decide(query)
        except (QueryError, PolicyError, ValueError, TypeError) as err:
            message = err.one_line() if isinstance(err, QueryError) else f"not a query: {err}"
            u = unanswerable.setdefault((text, message), Unanswerable(_safe_json(text), message, 0))
            u.rows += n
            continue
        cached = after_of.get(id(new))
        if cached is None or cached[0].decision != new.decision:
            cached = (Answer(new.decision, new.requires),
                      tuple(RuleRef(r.effect, r.rule, r.file, r.line, r.section, r.basis) for r in new.reasons))
            after_of[id(new)] = cached
        before, (after, now_rules) = Answer(decision, requires), cached
        key = (before, after)
        if key not in verdicts:
            verdicts[key] = compare(before, after)
        verdict = verdicts[key]
        if verdict is None:
            continue
        widened, narrowed = verdict
        mark = "widened and narrowed" if widened and narrowed else "widened" if widened else "narrowed"
        if now_rules:
            gkey = (mark, now_rules, True)
        else:  # default deny now: what no longer decides it is the old answer's rules
            gkey = (mark, _refs(json.loads(rules)), False)
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = Group(mark, gkey[1], gkey[2])
        group.rows += n
        group.texts.add(text)
        _keep_example(group, Example(query, before, after, n))
        result.changed += n
        result.widened += n if widened else 0
        result.narrowed += n if narrowed else 0
    result.questions = len(seen)
    result.groups = list(groups.values())
    result.unanswerable = list(unanswerable.values())


def _keep_example(group: Group, example: Example) -> None:
    for e in group.examples:  # the same question logged with two answers (two policy versions): one example
        if e.query == example.query and e.after == example.after:
            e.rows += example.rows
            return
    group.examples.append(example)
    group.examples.sort(key=lambda e: -e.rows)
    del group.examples[EXAMPLES:]


def _safe_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
