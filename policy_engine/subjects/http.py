"""The subject endpoints, as one FastAPI router the server includes (`subjects_router(state)`).

Configured by the environment, so every `--workers N` process sees the same settings:
POLICY_ENGINE_SUBJECT_STORE (a SQLite file or a postgresql:// URL; unset: no subject endpoints)
and POLICY_ENGINE_SUBJECT_TOKENS (the scoped token file, auth.py). The store is opened on first use: a store that is down makes
subject questions 503 with Retry-After, and fact questions (`/v1/decide`) never touch it.
Subject ids are in these paths, so the access log shows them redacted (`/v1/subjects/{id}/...`)
and metrics count them under one label.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from policy_engine.engine.query import QueryError
from policy_engine.subjects.auth import ScopeCheck, read_scoped_tokens
from policy_engine.subjects.decide import check_terms, decide_for_subject
from policy_engine.subjects.model import StoreUnavailable, SubjectError, check_event, parse_time
from policy_engine.subjects.requests import export, handle_request
from policy_engine.subjects.sweep import sweep
from policy_engine.subjects.store import SubjectStore

STORE_ENV = "POLICY_ENGINE_SUBJECT_STORE"
TOKENS_ENV = "POLICY_ENGINE_SUBJECT_TOKENS"
RETRY_AFTER = "5"
MAX_BODY = 1 << 20
_SUBJECT_PATH = re.compile(r"(/v1/subjects/)[^/?\s]+")

log = logging.getLogger("policy_engine.subjects")

_TEXT = {"type": "string"}
_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset; default now"}
EVENT_SCHEMA = {"type": "object", "title": "SubjectEvent", "additionalProperties": False, "required": ["kind"],
                "properties": {"kind": {"enum": ["begin", "end", "collected"]}, "fact": _TEXT, "category": _TEXT,
                               "source": _TEXT, "at": _TIME, "channel": _TEXT, "evidence": _TEXT,
                               "policy_digest": _TEXT}}
REQUEST_SCHEMA = {"type": "object", "title": "SubjectRequest", "additionalProperties": False, "required": ["kind"],
                  "properties": {"kind": {"enum": ["erasure", "access", "portability", "objection", "opt_out"]},
                                 "received_at": _TIME, "channel": _TEXT, "note": _TEXT}}
QUESTION_SCHEMA = {"type": "object", "title": "SubjectQuestion", "required": ["action", "data", "subject"],
                   "description": "a query (docs/semantics.md) naming `subject` and optionally `at`, never `facts`",
                   "properties": {"action": _TEXT, "data": _TEXT, "source": _TEXT, "purpose": _TEXT,
                                  "recipient": _TEXT, "subject": _TEXT, "at": _TIME, "collected_at": _TIME}}
_KEY = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255},
        "description": "a retry with the same key records once"}


def _body_doc(schema: dict[str, Any], key: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
    if key:
        doc["parameters"] = [_KEY]
    return doc


class _RedactSubjects(logging.Filter):
    """uvicorn's access log line carries the path; the subject id in it is personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = _SUBJECT_PATH.sub(r"\1{id}", args[2])
            record.args = tuple(args)
        return True


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), status,
                    headers=headers, media_type="application/json")


class Subjects:
    """The store (opened once, lazily) and the token check, shared by the handlers."""

    def __init__(self, url: str, token_file: str | None):
        self.url = url
        self.auth = ScopeCheck(read_scoped_tokens(token_file) if token_file else None)
        self._store: SubjectStore | None = None
        self._lock = threading.Lock()

    def store(self) -> SubjectStore:
        with self._lock:
            if self._store is None:
                self._store = SubjectStore.open(self.url)  # migrates; raises StoreUnavailable when down
            return self._store


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise SubjectError("request.too_large", f"the body is larger than {MAX_BODY} bytes", None)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        error = SubjectError("query.invalid_json", f"the body is not valid JSON: {err}", None)
        error.status = 400
        raise error from None


def _key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and (not key.strip() or len(key) > 255):
        raise SubjectError("subject.bad_idempotency_key", "Idempotency-Key must be 1 to 255 characters",
                           "Idempotency-Key")
    return key


def subjects_router(state: Any) -> APIRouter:
    """`state` is the server's state: `holder.current.policy` is the served policy, `log` the decision
    log and `encode` its encoder. Without a store configured the router is empty: the server has no
    subject endpoints at all (404), and its API document lists none."""
    if not os.environ.get(STORE_ENV):
        return APIRouter()
    subjects = Subjects(os.environ.get(STORE_ENV), os.environ.get(TOKENS_ENV))
    logging.getLogger("uvicorn.access").addFilter(_RedactSubjects())
    router = APIRouter(tags=["subjects"])
    router.subjects = subjects  # type: ignore[attr-defined]  (for subject questions on /v1/decide)

    async def guarded(request: Request, scope: str, work: Any) -> Response:
        try:
            subjects.auth.check(request.headers.get("authorization"), scope)
            result = await work()
        except StoreUnavailable as err:
            log.warning("subject store unavailable: %s", err)
            return _json({"error": {"code": "subjects.unavailable", "message": str(err), "field": None,
                                    "suggestions": []}}, 503, {"Retry-After": RETRY_AFTER})
        except QueryError as err:
            return _json(err.to_dict(), 400 if err.code == "query.invalid_json" else 422)
        except SubjectError as err:
            return _json(err.to_dict(), err.status, getattr(err, "headers", None))
        if isinstance(result, Response):
            return result
        return _json(result)

    def policy() -> Any:
        return state.holder.current.policy

    @router.post("/v1/subjects/{subject}/events", status_code=201, openapi_extra=_body_doc(EVENT_SCHEMA, True))
    async def record_event(subject: str, request: Request) -> Response:
        """Append one event (a fact begins or ends, or data was collected). A retry with the same
        Idempotency-Key records once and answers with the first event (`replayed: true`)."""
        async def work() -> Response:
            event = check_event(subject, await _body(request))
            check_terms(policy(), event)
            store = subjects.store()
            stored = await run_in_threadpool(store.record, event, _key(request))
            return _json(stored, 200 if stored["replayed"] else 201)
        return await guarded(request, "subjects:write", work)

    @router.get("/v1/subjects/{subject}")
    async def subject_view(subject: str, request: Request) -> Response:
        """The subject's history, the facts holding now, the data held, requests and tombstone."""
        async def work() -> Any:
            return await run_in_threadpool(export, subjects.store(), subject)
        return await guarded(request, "subjects:read", work)

    @router.delete("/v1/subjects/{subject}")
    async def forget(subject: str, request: Request, request_id: str) -> Response:
        """Erase the subject's records; a tombstone (time, request id) keeps old events from coming back."""
        async def work() -> Any:
            return await run_in_threadpool(subjects.store().forget, subject, request_id)
        return await guarded(request, "subjects:write", work)

    @router.post("/v1/subjects/{subject}/requests", openapi_extra=_body_doc(REQUEST_SCHEMA, True))
    async def subject_request(subject: str, request: Request) -> Response:
        """Record an erasure, access, portability, objection or opt-out request; erasure answers with
        the plan, access and portability with everything held."""
        async def work() -> Any:
            body = await _body(request)
            return await run_in_threadpool(handle_request, policy(), subjects.store(), subject, body, _key(request))
        return await guarded(request, "subjects:write", work)

    @router.post("/v1/subjects/decide", openapi_extra=_body_doc(QUESTION_SCHEMA))
    async def subject_decide(request: Request) -> Response:
        """A question naming `subject` (and `at`) instead of `facts`: the facts come from the store."""
        async def work() -> Any:
            raw = await _body(request)
            if not isinstance(raw, dict) or "subject" not in raw:
                raise QueryError("query.missing_field", "a subject question names `subject`", "subject")
            start = time.perf_counter()
            served = policy()
            answer, logged = await run_in_threadpool(decide_for_subject, served, subjects.store(), raw)
            decision = served.decide(logged_query(logged))
            state.log.record(logged, state.encode(decision), time.perf_counter() - start)
            return answer
        return await guarded(request, "subjects:read", work)

    @router.get("/v1/retention/due")
    async def retention_due(request: Request, at: str | None = None, limit: int = 1000,
                            within_days: int | None = None) -> Response:
        """Every (subject, data, source) that may no longer be kept at `at` (default now), with its
        deadline; with `within_days`, also what becomes due in that many days."""
        async def work() -> Any:
            when = parse_time(at, "at") if at else None
            if not 1 <= limit <= 100_000:
                raise SubjectError("subject.bad_limit", "`limit` must be between 1 and 100000", "limit")
            if within_days is not None and not 1 <= within_days <= 3650:
                raise SubjectError("subject.bad_within_days", "`within_days` must be between 1 and 3650", "within_days")
            return await run_in_threadpool(sweep, policy(), subjects.store(), when, limit, within_days)
        return await guarded(request, "subjects:read", work)

    return router


def logged_query(logged: dict[str, Any]) -> dict[str, Any]:
    """The engine's part of a logged subject question (the same Decision object, memoised)."""
    return {k: v for k, v in logged.items() if k not in ("subject", "evidence")}
