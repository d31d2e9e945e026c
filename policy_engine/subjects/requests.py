"""Data-subject requests: recorded in the store (idempotent like events), and answered with what the
store and the policy can say. The policy's rights decide (entitlement.py): which rights grant the
request for the subject's facts when it was received (refused when stated for others only), the
response deadline and its extension, the frequency limit (enforced when recording, 429 naming the
limit and the next possible time), and for erasure the exceptions the plan keeps by. Access and
portability return everything the store holds about the subject; erasure returns the plan.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from policy_engine.subjects.entitlement import entitle
from policy_engine.subjects.model import (REQUEST_KINDS, SubjectError, check_object, check_subject, format_time,
                                          parse_stored, parse_time, utc_now)
from policy_engine.subjects.retention import erasure_plan
from policy_engine.subjects.store import SubjectStore

_FIELDS = ("kind", "received_at", "channel", "note")


def export(store: SubjectStore, subject: str) -> dict[str, Any]:
    """Everything the store holds about the subject (access and portability)."""
    held, known = store.facts_at(subject)
    return {"subject": subject, "known": known, "events": store.history(subject),
            "facts_now": [h.to_dict() for h in held], "data": store.held(subject),
            "requests": store.requests(subject), "tombstone": store.tombstone(subject)}


def check_request(raw: Any) -> tuple[str, str, str | None, str | None, bool]:
    """-> (kind, received_at stored, channel, note, whether received_at was given)."""
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
    return kind, received, texts[0], texts[1], bool(raw.get("received_at"))


def handle_request(policy: Any, store: SubjectStore, subject: str, raw: Any, key: str | None = None,
                   at: datetime | None = None) -> dict[str, Any]:
    """Record the request and answer it: the rights it rests on, the response deadline, and the
    plan (erasure) or the data (access, portability). The rights are asked with the facts held
    when the request was received; the plan is worked out as of `at` (default: receipt)."""
    check_subject(subject)
    kind, received, channel, note, given = check_request(raw)
    held, _ = store.facts_at(subject, parse_stored(received))
    rights = entitle(policy, kind, [h.fact for h in held])
    fingerprint = hashlib.sha256(json.dumps([subject, kind, received if given else None, channel,
                                             note]).encode()).hexdigest()
    request, replayed = store.record_request(subject, kind, received, channel, note, key, fingerprint, rights.limit)
    out: dict[str, Any] = {"request": request, "replayed": replayed, "rights": rights.granted,
                           "response": rights.response(format_time(parse_time(request["received_at"], "received_at")))}
    if not rights.stated:
        out["note"] = out["response"]["note"]
    if kind in ("access", "portability"):
        out["data"] = export(store, subject)
    elif kind == "erasure":
        out["plan"] = erasure_plan(policy, store, subject, at or parse_stored(received), rights.exceptions())
    return out
