"""Expectations with times. In: an expectation's question (`given account_closed 10 days ago`,
`collected 10 days ago`) and its `for D` (how long the answer lasts). Out: the query's `at`,
`collected_at` and facts object, and the comparison of `for D` with the answer's `until` / `from`.

Ages are relative to the instant asked about, so an expectation reads as the policy does and
never goes stale; the runner asks at one fixed instant, AT, so answers and reports repeat exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from policy_engine.engine.query import Decision
from policy_engine.engine.query_time import rfc3339
from policy_engine.language import ast

AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _ago(d: ast.Duration) -> str:
    return rfc3339(AT - dt.timedelta(days=d.days))


def times(q: ast.Query) -> dict[str, Any]:
    """`at`, and `collected_at` and the facts with their times where the question gives them."""
    out: dict[str, Any] = {"at": rfc3339(AT)}
    if q.collected is not None:
        out["collected_at"] = _ago(q.collected)
    if q.ages and q.facts is not None:
        ages = dict(q.ages)
        out["facts"] = {f.id: (_ago(ages[f.id]) if f.id in ages else True) for f in q.facts}
    return out


def lasting_mismatch(exp: ast.Expectation, decision: Decision) -> str:
    """Empty when the answer lasts exactly `for D`; else what differs, in words."""
    assert exp.lasting is not None
    wanted = rfc3339(AT + dt.timedelta(days=exp.lasting.days))
    actual = decision.until if decision.decision == "allow" else decision.from_
    if actual == wanted:
        return ""
    word = "allowed until" if decision.decision == "allow" else "denied until"
    if actual is None:
        return f"the answer does not end at a known instant; the expectation wants it {word} {wanted} " \
               f"({exp.lasting.text()} after {rfc3339(AT)})"
    return f"the answer is {word} {actual}, the expectation wants {wanted} ({exp.lasting.text()} after {rfc3339(AT)})"


def lasting_text(decision: Decision) -> str:
    if decision.until:
        return f", until {decision.until}"
    if decision.from_:
        return f", from {decision.from_}"
    return ""
