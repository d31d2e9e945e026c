"""What the subject store holds, and how an event from a caller is checked before it is kept.

An event is one of: a fact `begin`s or `end`s to hold for a subject (a consent given or withdrawn,
an account opened or closed), with the channel and free-text evidence of how it was learnt and the
policy digest in force; or data was `collected` (category, source). Every event has a time `at`.
Bad input raises SubjectError naming the field, never a half-kept event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from policy_engine.engine.query_time import FIRST_YEAR, LAST_YEAR, within_range

KINDS = ("begin", "end", "collected")
REQUEST_KINDS = ("erasure", "access", "portability", "objection", "opt_out")
MAX_TEXT = 4096
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class SubjectError(Exception):
    """A request the store refuses: `code` (stable), `message`, `field` (None for the whole)."""

    status = 422

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, "suggestions": []}}


class Forgotten(SubjectError):
    """The subject was erased; an event dated before the erasure is a replay and is refused."""

    status = 410


class IdempotencyConflict(SubjectError):
    """An idempotency key reused for a different event."""

    status = 409


class StoreUnavailable(Exception):
    """The database cannot be reached or written; fact questions do not depend on it."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """The one stored form: fixed width, UTC, microseconds, so text order is time order."""
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def parse_time(value: Any, field: str) -> datetime:
    """RFC 3339 with an offset (`2026-03-01T00:00:00Z`); a time without one is refused, since
    guessing a zone would move consent records by hours."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise SubjectError("subject.bad_time", f"`{field}` is not an RFC 3339 time: {value!r} "
                               "(write it like 2026-03-01T00:00:00Z)", field) from None
    else:
        raise SubjectError("subject.bad_time", f"`{field}` must be an RFC 3339 time text", field)
    if moment.tzinfo is None:
        raise SubjectError("subject.bad_time", f"`{field}` has no time zone: {value!r} (add Z for UTC, "
                           "or an offset such as +02:00)", field)
    inside = within_range(moment)
    if inside is None:
        raise SubjectError("subject.bad_time", f"`{field}` is {value!r}, outside the years {FIRST_YEAR} to "
                           f"{LAST_YEAR} the engine computes in (write it like 2026-03-01T00:00:00Z)", field)
    return inside


def parse_stored(stored: str) -> datetime:
    """The stored form back to an aware datetime."""
    return datetime.strptime(stored, _TIME_FORMAT).replace(tzinfo=timezone.utc)


def show_time(stored: str) -> str:
    """Stored form -> the RFC 3339 callers see (`2026-03-01T00:00:00Z`, fractions only if any)."""
    return stored.replace(".000000Z", "Z")


def check_object(raw: Any, what: str, fields: Sequence[str]) -> None:
    """A JSON object with no field but `fields` (`what`: "an event", "a request")."""
    if not isinstance(raw, dict):
        raise SubjectError("subject.wrong_type", f"{what} is a JSON object", None)
    for name in raw:
        if name not in fields:
            raise SubjectError("subject.unknown_field", f"unknown field `{name}`; {what} has the fields "
                               + ", ".join(fields), str(name))


def check_subject(subject: Any) -> str:
    if not isinstance(subject, str) or not subject.strip():
        raise SubjectError("subject.bad_id", "a subject id is a non-empty text", "subject")
    if len(subject) > 256 or not subject.isprintable():
        raise SubjectError("subject.bad_id", "a subject id is at most 256 printable characters", "subject")
    return subject


def _text(raw: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise SubjectError("subject.missing_field", f"this event needs `{name}`", name)
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise SubjectError("subject.wrong_type", f"`{name}` must be a text", name)
    if len(value) > MAX_TEXT:
        raise SubjectError("subject.too_long", f"`{name}` is longer than {MAX_TEXT} characters", name)
    return value


_EVENT_FIELDS = ("kind", "fact", "category", "source", "at", "channel", "evidence", "policy_digest")


@dataclass(frozen=True)
class NewEvent:
    """A checked event, not yet stored."""

    subject: str
    kind: str
    at: str
    fact: str | None = None
    category: str | None = None
    source: str | None = None
    channel: str | None = None
    evidence: str | None = None
    policy_digest: str | None = None
    at_given: bool = True  # False: `at` defaulted to the time of receipt

    def fingerprint(self) -> str:
        """What a retry must repeat for its idempotency key to mean the same event: the caller's
        fields, so a retry of an event without `at` (stamped on receipt) is the same event."""
        body = json.dumps([self.subject, self.kind, self.at if self.at_given else None, self.fact, self.category,
                           self.source, self.channel, self.evidence, self.policy_digest])
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def check_event(subject: str, raw: Any, default_at: datetime | None = None) -> NewEvent:
    """A caller's event object -> NewEvent. `{"kind": "begin", "fact": "newsletter_form", "at": ...,
    "channel": "web form", "evidence": "..."}` or `{"kind": "collected", "category": "email",
    "source": "contact"}`; `at` defaults to now."""
    check_subject(subject)
    check_object(raw, "an event", _EVENT_FIELDS)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise SubjectError("subject.bad_kind", f"`kind` must be one of {', '.join(KINDS)}, not {kind!r}", "kind")
    given = raw.get("at") is not None
    at = format_time(parse_time(raw["at"], "at") if given else (default_at or utc_now()))
    texts: dict[str, Any] = {name: _text(raw, name) for name in ("channel", "evidence", "policy_digest")}
    texts["at_given"] = given
    if kind == "collected":
        if raw.get("fact") is not None:
            raise SubjectError("subject.unknown_field", "a `collected` event names `category` and `source`, "
                               "not `fact`", "fact")
        return NewEvent(subject, kind, at, category=_text(raw, "category", True), source=_text(raw, "source"),
                        **texts)
    for name in ("category", "source"):
        if raw.get(name) is not None:
            raise SubjectError("subject.unknown_field", f"a `{kind}` event names a `fact`, not `{name}`", name)
    return NewEvent(subject, kind, at, fact=_text(raw, "fact", True), **texts)
