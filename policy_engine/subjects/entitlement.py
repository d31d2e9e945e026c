"""Which of the policy's rights a request rests on, for this subject, and what follows from them:
the response deadline and its extension, the frequency limit, and the exceptions an erasure leaves.

The engine's rights question (docs/semantics.md, `Policy.rights`) is asked for every right that grants the
request's kind (an erasure request: `erasure` and the US states' `delete`), with the facts the
store holds for the subject when the request was received. Then:
- a kind no `right` statement names: recorded, with a note (the law may grant it all the same;
  the policy does not say, so nothing is refused and no deadline is invented);
- rights stated but none granted for these facts (`right delete if resident.us` and a subject
  with no US residence): refused before anything is recorded, naming each right's condition;
- granted: the shortest deadline stated (what the person can count on) with that right's
  extension; a frequency limit only when every granted right states one (a right without a limit
  can always be exercised), the loosest of them; the exceptions of all granted rights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from policy_engine.subjects.model import SubjectError, format_time, show_time

# A request kind -> the rights (docs/semantics.md) that grant it.
RIGHTS = {"erasure": ("erasure", "delete"), "access": ("access", "know"), "portability": ("portability",),
          "objection": ("objection",), "opt_out": ("opt_out_of_sale", "opt_out_of_sharing", "unsubscribe")}
_DAYS = {"D": 1, "W": 7, "M": 30, "Y": 365}  # docs/semantics.md: a month is 30 days, a year 365
_ISO = re.compile(r"P(\d+)([DWMY])")


def days(iso: str) -> int:
    """`P45D` -> 45, `P12M` -> 360: the durations the rights answer writes (ast.Duration.iso)."""
    found = _ISO.fullmatch(iso)
    if found is None:
        raise ValueError(f"not a duration of the policy language: {iso!r}")
    return int(found.group(1)) * _DAYS[found.group(2)]


class RightNotGranted(SubjectError):
    """The policy states the right, but not for a subject with these facts."""

    status = 422


class RequestLimited(SubjectError):
    """The right's frequency limit is reached; `next_possible` says from when a request counts again."""

    status = 429

    def __init__(self, code: str, message: str, field: str | None, next_possible: str):
        super().__init__(code, message, field)
        self.next_possible = next_possible

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["error"]["next_possible"] = self.next_possible
        return out


@dataclass(frozen=True)
class Limit:
    count: int
    per: str  # ISO 8601 as the policy writes it: P12M
    right: str

    @property
    def window(self) -> timedelta:
        return timedelta(days=days(self.per))

    def refuse(self, kind: str, counted: list[str], received: str) -> RequestLimited:
        """`counted`: the stored receipt times inside the window, oldest first (at least `count`)."""
        oldest = counted[len(counted) - self.count]
        nxt = format_time(datetime.fromisoformat(oldest.replace("Z", "+00:00")) + self.window)
        return RequestLimited(
            "subject.request_limit",
            f"the right `{self.right}` allows at most {self.count} {kind} request"
            f"{'' if self.count == 1 else 's'} per {self.per} ({days(self.per)} days); this subject made "
            f"{len(counted)} in the {days(self.per)} days before {show_time(received)}; the next is possible "
            f"from {show_time(nxt)}", "kind", show_time(nxt))


@dataclass(frozen=True)
class Entitlement:
    kind: str
    granted: list[dict[str, Any]] = field(default_factory=list)  # the rights answers that grant it
    stated: bool = False
    limit: Limit | None = None

    def response(self, received: str) -> dict[str, Any]:
        """The response deadline from `received` (stored form), and its extension."""
        if not self.stated:
            return {"note": f"the policy declares no right that grants a `{self.kind}` request"}
        timed = [r for r in self.granted if r.get("deadline")]
        if not timed:
            return {"note": "the policy states no response deadline for the rights granting this request"}
        right = min(timed, key=lambda r: days(r["deadline"]))
        start = datetime.fromisoformat(received.replace("Z", "+00:00"))
        due = start + timedelta(days=days(right["deadline"]))
        out = {"right": right["right"], "deadline": right["deadline"], "respond_by": show_time(format_time(due))}
        if right.get("extension"):
            out["extension"] = right["extension"]
            out["extended_respond_by"] = show_time(format_time(due + timedelta(days=days(right["extension"]))))
        if self.limit is not None:
            out["limit"] = f"{self.limit.count} per {self.limit.per}"
        return out

    def exceptions(self) -> list[dict[str, Any]]:
        """The rules the granted rights' `except` clauses name, once each, with the right."""
        out: dict[tuple[str, int], dict[str, Any]] = {}
        for r in self.granted:
            for reason in r.get("exceptions", []):
                entry = out.setdefault((reason["file"], reason["line"]), {**reason, "rights": []})
                entry["rights"].append(r["right"])
        return list(out.values())


def entitle(policy: Any, kind: str, facts: list[str]) -> Entitlement:
    """Ask the rights question for each right granting `kind`; refuse when stated but not granted."""
    stated_ids = {s["right"] for s in policy.statements().get("rights", [])}
    candidates = [r for r in RIGHTS[kind] if r in stated_ids]
    if not candidates:
        return Entitlement(kind)
    answers = [policy.rights({"right": r, "facts": facts}).to_dict() for r in candidates]
    granted = [a for a in answers if a["decision"] == "allow"]
    if not granted:
        conditions = []
        for r in candidates:
            partial = policy.rights({"right": r}).to_dict()
            conditions.append(f"`{r}` only if {partial.get('requires') or 'never'}")
        raise RightNotGranted("subject.right_not_granted",
                              f"the policy grants {' and '.join(conditions)}; the facts held for this subject "
                              f"({', '.join(facts) or 'none'}) meet none of them, so the {kind} request is "
                              "not recorded", "kind")
    limited = [a for a in granted if a.get("limit")]
    limit = None
    if limited and len(limited) == len(granted):
        def parse(a: dict[str, Any]) -> Limit:
            count, _, per = a["limit"].partition(" per ")
            return Limit(int(count), per, a["right"])
        limit = max((parse(a) for a in limited), key=lambda lim: lim.count / max(days(lim.per), 1))
    return Entitlement(kind, granted, True, limit)
