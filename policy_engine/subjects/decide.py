"""Decide for a subject: a question naming `"subject": "4711"` (and optionally `at`) instead of
`facts`. The facts holding at `at` are read from the store and the engine answers in the closed
world, exactly as if the caller had listed them; the answer adds `evidence` (the events used) and
`subject` (whether the store knows it). The engine's query model is not changed: this wraps it,
so the server and the CLI share one path.

Time (docs/semantics.md): the facts go to the engine as `{fact: the time it began}`, with `at`, and with
`collected_at` the last time the store saw the question's data (and source) collected up to `at`
(the caller's own `collected_at`, naming the copy it asks about, wins). A limit on collection or
on a fact's start is so decided exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policy_engine.engine.query import QueryError, check_term
from policy_engine.subjects.model import NewEvent, check_subject, format_time, parse_time, show_time, utc_now
from policy_engine.subjects.store import Held, SubjectStore

SUBJECT_FIELDS = ("subject", "at")


@dataclass(frozen=True)
class SubjectQuery:
    """A question split into the engine's part and the store's part."""

    query: dict[str, Any]  # the engine's query, without `subject`/`at` (facts filled in later)
    subject: str
    at: datetime


def is_subject_query(raw: Any) -> bool:
    return isinstance(raw, Mapping) and "subject" in raw


def split(raw: Mapping[str, Any], now: datetime | None = None) -> SubjectQuery:
    """Refuse a question that names both a subject and facts: which would win is a guess."""
    if "facts" in raw:
        raise QueryError("query.subject_and_facts", "a question names either `subject` (its facts are read from "
                         "the subject store) or `facts`, not both; drop one of them", "facts")
    subject = raw.get("subject")
    try:
        check_subject(subject)
        at = parse_time(raw["at"], "at") if raw.get("at") is not None else (now or utc_now())
    except Exception as err:  # SubjectError -> the query's own error shape, naming the field
        field = getattr(err, "field", None) or "subject"
        raise QueryError("query.wrong_type", getattr(err, "message", str(err)), field) from None
    query = {k: v for k, v in raw.items() if k not in SUBJECT_FIELDS}
    return SubjectQuery(query, subject, at)


def engine_facts(held: list[Held]) -> dict[str, str]:
    """The facts holding, each with the time it began (closed world: exactly these hold)."""
    return {h.fact: show_time(h.since) for h in held}


def engine_query(sq: SubjectQuery, held: list[Held], collected: str | None = None) -> dict[str, Any]:
    query = {**sq.query, "facts": engine_facts(held), "at": show_time(format_time(sq.at))}
    if collected is not None and "collected_at" not in query:
        query["collected_at"] = show_time(collected)
    return query


def evidence(held: list[Held]) -> list[dict[str, Any]]:
    return [h.to_dict() for h in held]


def decide_for_subject(policy: Any, store: SubjectStore, raw: Mapping[str, Any],
                       now: datetime | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """-> (the answer as JSON, the query as the decision log should keep it: with subject, at and
    the evidence). Raises QueryError for a bad question, StoreUnavailable when the store is down."""
    sq = split(raw, now)
    policy.key({**sq.query, "facts": []})  # a bad question fails before the store is asked
    held, known = store.facts_at(sq.subject, sq.at)
    data = sq.query.get("data")
    collected = store.last_collected(sq.subject, data, sq.query.get("source"), sq.at) if isinstance(data, str) else None
    query = engine_query(sq, held, collected)
    decision = policy.decide(query)
    answer = decision.to_dict()
    answer["evidence"] = evidence(held)
    answer["subject"] = {"id": sq.subject, "at": show_time(format_time(sq.at)), "known": known}
    if "collected_at" in query:
        answer["subject"]["collected_at"] = query["collected_at"]
    if not known:
        answer["subject"]["note"] = ("the store holds no events for this subject up to `at`: answered with no "
                                     "facts held (closed world)")
    logged = {**query, "subject": sq.subject, "evidence": answer["evidence"]}
    return answer, logged


def check_terms(policy: Any, event: NewEvent) -> None:
    """An event names terms of the served policy: a misspelt consent would be a record no rule reads."""
    vocab = policy.compiled.vocabulary
    for kind, value, field in (("fact", event.fact, "fact"), ("data", event.category, "category"),
                               ("source", event.source, "source")):
        if value is not None:
            check_term(vocab, kind, value, field)
