"""Data-subject requests: recorded in the store (idempotent like events), and answered with what the
store and the policy can say today. Access and portability return everything the store holds about
the subject; erasure returns the plan (retention.py). Each answer names the right the policy
declares for the request and its channels.

The response deadline (`deadline`, `extension`) comes from the policy's rights once rights carry
deadlines; `right_terms` is where the engine's rights question plugs in.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from policy_engine.subjects.model import (REQUEST_KINDS, SubjectError, check_object, check_subject, format_time,
                                          parse_time, utc_now)
from policy_engine.subjects.retention import erasure_plan
from policy_engine.subjects.store import SubjectStore

# A request kind -> the rights (SPEC 5.4 ids) that grant it.
RIGHTS = {"erasure": ("erasure", "delete"), "access": ("access", "know"), "portability": ("portability",),
          "objection": ("objection",), "opt_out": ("opt_out_of_sale", "opt_out_of_sharing", "unsubscribe")}
_FIELDS = ("kind", "received_at", "channel", "note")


def right_terms(policy: Any, kind: str) -> list[dict[str, Any]]:
    """The rights the policy declares that grant this request, with their channels."""
    wanted = RIGHTS[kind]
    return [r for r in policy.statements().get("rights", []) if r["right"] in wanted]


def export(store: SubjectStore, subject: str) -> dict[str, Any]:
    """Everything the store holds about the subject (access and portability)."""
    held, known = store.facts_at(subject)
    return {"subject": subject, "known": known, "events": store.history(subject),
            "facts_now": [h.to_dict() for h in held], "data": store.held(subject),
            "requests": store.requests(subject), "tombstone": store.tombstone(subject)}


def check_request(raw: Any) -> tuple[str, str, str | None, str | None]:
    check_object(raw, "a request", _FIELDS)
    kind = raw.get("kind")
    if kind not in REQUEST_KINDS:
        raise SubjectError("subject.bad_kind", f"`kind` must be one of {', '.join(REQUEST_KINDS)}, not {kind!r}",
                           "kind")
    received = format_time(parse_time(raw["received_at"], "received_at") if raw.get("received_at") else utc_now())
    texts = []
    for name in ("channel", "note"):
        value = raw.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 4096):
            raise SubjectError("subject.wrong_type", f"`{name}` must be a text of at most 4096 characters", name)
        texts.append(value)
    return kind, received, texts[0], texts[1]


def handle_request(policy: Any, store: SubjectStore, subject: str, raw: Any, key: str | None = None,
                   at: datetime | None = None) -> dict[str, Any]:
    check_subject(subject)
    kind, received, channel, note = check_request(raw)
    fingerprint = hashlib.sha256(json.dumps([subject, kind, received, channel, note]).encode()).hexdigest()
    request, replayed = store.record_request(subject, kind, received, channel, note, key, fingerprint)
    out: dict[str, Any] = {"request": request, "replayed": replayed, "rights": right_terms(policy, kind)}
    if not out["rights"]:
        out["note"] = f"the policy declares no right that grants a `{kind}` request"
    if kind in ("access", "portability"):
        out["data"] = export(store, subject)
    elif kind == "erasure":
        out["plan"] = erasure_plan(policy, store, subject, at)
    return out
