"""Time limits and instants in words, for answers and reports. In: ast.TimeLimit, ast.Duration,
atom names, datetimes. Out: str. Durations in answers are ISO 8601 (`P30D`); in sentences they
are written as the policy writes them (`30 days`).
"""

from __future__ import annotations

from policy_engine.language import ast


def limit_iso(limit: ast.TimeLimit) -> str:
    """`within P30D after account_closed`, `after P2Y after collection`: a rule's limit in an answer."""
    anchor = limit.anchor.id if limit.anchor is not None else "collection"
    return f"{limit.form} {limit.duration.iso()} after {anchor}"


def limit_words(limit: ast.TimeLimit) -> str:
    """`for 30 days after account_closed`, `from 2 years after collection`: a limit in a sentence."""
    anchor = limit.anchor.id if limit.anchor is not None else "collection"
    word = "for" if limit.form == "within" else "from"
    return f"{word} {limit.duration.text()} after {anchor}"
