"""Time limits in words, for answers and reports. In: ast.TimeLimit, a policy's rules. Out: str, and
the retention periods the rules state. Durations in answers are ISO 8601 (`P30D`); in sentences they
are written as the policy writes them (`30 days`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policy_engine.language import ast
from policy_engine.language.printer import format_rule


def limit_iso(limit: ast.TimeLimit) -> str:
    """`within P30D after account_closed`, `after P2Y after collection`: a rule's limit in an answer."""
    anchor = limit.anchor.id if limit.anchor is not None else "collection"
    return f"{limit.form} {limit.duration.iso()} after {anchor}"


def limit_words(limit: ast.TimeLimit) -> str:
    """`for 30 days after account_closed`, `from 2 years after collection`: a limit in a sentence."""
    anchor = limit.anchor.id if limit.anchor is not None else "collection"
    word = "for" if limit.form == "within" else "from"
    return f"{word} {limit.duration.text()} after {anchor}"


def anchor_words(limit: ast.TimeLimit) -> str:
    return "collection" if limit.anchor is None else limit.anchor.id


def retention_periods(tree: ast.PolicyFile) -> list[dict[str, Any]]:
    """The retention periods the rules state, as the statements list them beside `retention`: an
    allow to retain `within D` keeps the data up to D after its anchor; a deny to retain `after D`
    ends the keeping D after it. `period` in words, `duration` ISO 8601."""
    out: list[dict[str, Any]] = []
    for section, rule in tree.rules():
        limit = rule.time
        if limit is None or ast.base_action(rule.action) != "retain":
            continue
        if (rule.effect, limit.form) not in (("allow", "within"), ("deny", "after")):
            continue
        purposes = [p.id for p in rule.purposes]
        period = f"up to {limit.duration.text()} after {anchor_words(limit)}" \
            + (f" (for {', '.join(purposes)})" if purposes else "")
        out.append({"data": None if rule.data is None else [r.id for r in rule.data], "period": period,
                    "section": section.title, "duration": limit.duration.iso(),
                    "after": None if limit.anchor is None else limit.anchor.id, "purposes": purposes,
                    "rule": format_rule(rule)})
    return out


class _Timed:
    """A question with times: `plain` is it without them; calling it adds them to its words."""

    def __init__(self, plain: Any, since: dict[str, str], collected: str | None, at: str | None):
        self.plain, self.since, self.collected, self.at = plain, since, collected, at

    def __call__(self, text: str) -> str:
        for fact, when in self.since.items():
            text = re.sub(rf"(?<=[ ,]){re.escape(fact)}(?=,|$| )", f"{fact} (since {when})", text, count=1)
        if self.collected:
            text += f", collected {self.collected}"
        if self.at:
            text += f", at {self.at}"
        return text


def question_times(q: Any) -> _Timed | None:
    """For a query (a Key or its dict) with `at`, `collected_at` or fact times: its words' parts;
    None for a question without times (its words are as before)."""
    from policy_engine.engine.query_time import rfc3339

    if hasattr(q, "_asdict"):
        f = q._asdict()
        if f.get("at") is None and f.get("collected_at") is None and not f.get("times"):
            return None
        since = {name: rfc3339(t) for name, t in f.get("times", ())}
        plain = {k: f.get(k) for k in ("action", "data", "source", "purpose", "recipient", "facts")}
        at, collected = f.get("at"), f.get("collected_at")
        return _Timed(plain, since, None if collected is None else rfc3339(collected), None if at is None else rfc3339(at))
    if isinstance(q, Mapping) and (q.get("at") is not None or q.get("collected_at") is not None
                                   or isinstance(q.get("facts"), Mapping)):
        facts = q.get("facts")
        since = {k: str(v) for k, v in facts.items() if v is not True} if isinstance(facts, Mapping) else {}
        plain = {**q, "facts": list(facts) if isinstance(facts, Mapping) else facts}
        plain.pop("at", None)
        plain.pop("collected_at", None)
        return _Timed(plain, since, _text(q.get("collected_at")), _text(q.get("at")))
    return None


def _text(value: Any) -> str | None:
    from policy_engine.engine.query_time import rfc3339

    if value is None:
        return None
    return rfc3339(value) if hasattr(value, "astimezone") else str(value)


def explain_times(ex: Any) -> list[str]:
    """For `explain`: when the answer ends or begins (`until` / `from`), and which time limits could
    not be decided because an anchor's time is not known (so an allow does not apply: fail closed)."""
    d, key = ex.decision, ex.key
    out: list[str] = []
    if d.until:
        deadline = " (the deletion deadline)" if ast.base_action(key.action) == "retain" else ""
        out.append(f"It stays allowed until {d.until}{deadline}, when a time limit ends.")
    if d.from_:
        out.append(f"It will be allowed from {d.from_}, when a time limit changes the answer.")
    if d.decision == "deny" and key.facts is not None:
        cited = {r.line for r in d.reasons}
        for rules, effect in ((ex.allows, "an allow that needs it does not apply"),
                              ([r for r in ex.denies if r.line in cited], "a deny that needs it applies")):
            unknown = _unknown_anchors(key, rules)
            if unknown:
                out.append("Not known: " + ", ".join(unknown) + f"; {effect} (fail closed).")
    return out


def _unknown_anchors(key: Any, rules: Any) -> list[str]:
    timed = dict(getattr(key, "times", ()) or ())
    unknown = []
    for r in rules:
        limit = r.time
        if limit is None:
            continue
        if limit.anchor is None and getattr(key, "collected_at", None) is None:
            unknown.append("when the data was collected (`collected_at`)")
        elif limit.anchor is not None and limit.anchor.id in key.facts and limit.anchor.id not in timed:
            unknown.append(f"when {limit.anchor.id} began to hold (its time in `facts`)")
    return list(dict.fromkeys(unknown))
