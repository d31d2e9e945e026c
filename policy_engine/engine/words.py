"""The one sentence writer: questions, answers, conditions and reasons in words. In: queries
(a dict, a validated Key or an expectation's ast.Query), decisions, reasons (the engine's Reason
or its JSON dict), requirements (a condition value or text). Out: str.

Every report that tells a person what was asked and why it was answered so (explain, test,
diff, the data map, the decision log, the rendered document) writes it with these functions, so
one question reads the same everywhere: `use of email from forum for marketing given nothing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from policy_engine.language import ast
from policy_engine.engine.timed_words import question_times
from policy_engine.language.printer import format_condition, format_query, question_text

FACTS_UNKNOWN = "(facts unknown)"
DEFAULT_DENY = "no rule allows it (denied by default)"
VERB = {"collect": "collected", "use": "used", "share": "shared", "retain": "retained"}


def verb(action: str) -> str:
    """The participle of an action; a sub-action is its base action's, naming the sub-action:
    `shared (as share.sell)`."""
    base = action.split(".", 1)[0]
    return VERB[base] + (f" (as {action})" if action != base else "")


def _fields(q: Any) -> Mapping[str, Any]:
    if isinstance(q, ast.Query):
        return {"action": q.action, "data": q.data.id, "source": q.source.id if q.source else None,
                "purpose": q.purpose.id if q.purpose else None,
                "recipient": q.recipient.id if q.recipient else None,
                "destination": q.destination.id if q.destination else None,
                "facts": None if q.facts is None else [f.id for f in q.facts]}
    if hasattr(q, "_asdict"):  # a validated Key
        return q._asdict()  # type: ignore[no-any-return]
    return q  # type: ignore[no-any-return]


def question(q: Any, *, facts: bool = True, unknown: str | None = None) -> str:
    """`use of email from forum for marketing given a, b`. With `facts=False` the facts are left
    out; facts unknown (None) add `unknown` when given (e.g. FACTS_UNKNOWN). The times a question
    carries are said too: `given account_closed 10 days ago` (an expectation), `given
    account_closed (since 2026-03-01T00:00:00Z) ... at 2026-03-15T00:00:00Z` (a query)."""
    if isinstance(q, ast.Query) and (q.ages or q.collected is not None) and facts:
        text = format_query(q)
        return text + (" " + unknown if q.facts is None and unknown else "")
    timed = question_times(q)
    if timed is not None:
        return timed(question(timed.plain, facts=facts, unknown=unknown))
    f = _fields(q)
    held = f.get("facts") if facts else None
    if isinstance(held, (set, frozenset)):
        held = sorted(held)
    text = question_text(f.get("action"), f.get("data"), f.get("source"), f.get("purpose"), f.get("recipient"),
                         None if held is None else list(held), destination=f.get("destination"))
    if facts and f.get("facts") is None and unknown:
        text += " " + unknown
    return text


def condition(req: Any) -> str:
    """A requirement as the language writes it; constants as `true` / `false`."""
    if req is True or req is None:
        return "true"
    if req is False:
        return "false"
    if isinstance(req, str):
        return req
    return format_condition(req)


def answer(decision: str, requires: Any = None) -> str:
    """`allowed`, `denied`, or `allowed only if newsletter_form`."""
    if decision == "allow":
        return "allowed"
    if decision == "deny":
        return "denied"
    return f"allowed only if {condition(requires)}"


def _get(r: Any, name: str) -> Any:
    return r.get(name) if isinstance(r, Mapping) else getattr(r, name, None)


def where(r: Any) -> str:
    """`policies/open_e.policy:42  (section "Marketing", basis consent)`: where a rule is written;
    a transfer's safeguard too (`safeguard standard_contractual_clauses`)."""
    basis = _get(r, "basis")
    safeguard = _get(r, "safeguard")
    return f"{_get(r, 'file')}:{_get(r, 'line')}  (section \"{_get(r, 'section')}\"" \
           + (f", basis {basis}" if basis else "") + (f", safeguard {safeguard}" if safeguard else "") + ")"


def reason_lines(reasons: Sequence[Any], indent: str = "", inline: bool = False) -> list[str]:
    """The rules that decided an answer: each as its effect and place, then the rule as written
    (on the next line, or after a colon when `inline`). None at all: the default deny."""
    if not reasons:
        return [f"{indent}{DEFAULT_DENY}"]
    out: list[str] = []
    for r in reasons:
        head = f"{indent}{_get(r, 'effect'):<5}  {where(r)}"
        rule = _get(r, "rule")
        if inline:
            out.append(f"{head}: {rule}")
        else:
            out += [head, f"{indent}       {rule}"]
    return out


def transfer(t: Any) -> str:
    """An allowed transfer (engine.transfers.Transfer or its dict): `all data shared with
    service_provider in region.us under standard_contractual_clauses, only if resident.eea`."""
    data, recipients = _get(t, "data"), _get(t, "recipients") or ()
    text = ("all data" if data is None else join(data, "or")) + " " + verb(_get(t, "action"))
    text += (" for " + join(_get(t, "purposes"), "or")) if _get(t, "purposes") else ""
    text += (" with " + join(recipients, "or")) if recipients else ""
    text += " in " + join(_get(t, "destinations"), "or")
    safeguard = _get(t, "safeguard")
    text += f" under {safeguard}" if safeguard else " (no safeguard stated)"
    condition = _get(t, "condition")
    return text + (f", only if {condition}" if condition else "")


def safeguards(reasons: Sequence[Any]) -> list[str]:
    """The safeguards the allowing reasons of an answer rely on, each once, in order."""
    found = [_get(r, "safeguard") for r in reasons if _get(r, "effect") == "allow"]
    return list(dict.fromkeys(s for s in found if s))


def join(words: Iterable[str], last: str = "and") -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(words)
    if len(items) <= 2:
        return f" {last} ".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]



def narrower(kind: str, parent: str, allowed: Sequence[tuple[str, Any]], more: int = 0,
             indent: str = "  ") -> list[str]:
    """A denied question about a parent term whose narrower terms are allowed, in lines:
    the reason (a rule on a child does not answer for the parent), each child with its answer."""
    plural = {"data": "data", "purpose": "purposes", "source": "sources", "recipient": "recipients"}[kind]
    out = [f"Narrower {plural} are allowed, though: a question about `{parent}` is about all of it, and a rule "
           f"on a narrower {kind} does not answer it. Ask about the one meant:"]
    out += [f"{indent}{child}: {answer(d.decision, d.requires)}" for child, d in allowed]
    if more:
        out.append(f"{indent}and {more} more")
    return out
