"""The subject store's methods of `Client` and `AsyncClient` (a mixin of both: each method returns
its client's `_run`, so on AsyncClient it is awaited). Subject endpoints need a token with the
subjects:read / subjects:write scopes (the server's POLICY_ENGINE_SUBJECT_TOKENS).

    with Client(url, token="writer-token") as pe:
        pe.record_event("4711", {"kind": "begin", "fact": "newsletter_form", "evidence": "mail 991"})
        pe.decide_subject({"action": "use", "data": "email", "source": "contact",
                           "purpose": "marketing", "subject": "4711"}).evidence
        pe.subject_request("4711", {"kind": "erasure"}).plan

Writes carry an Idempotency-Key (one is made when not given), so the client's retries of a 503 or
a dropped connection record once. Refusals raise the client's APIError with the server's code:
`subject.request_limit` (429; `err.body["error"]["next_possible"]`), `subject.right_not_granted`,
`subject.forgotten` (410), `subjects.unavailable` (503, after the retries).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from policy_engine.client_models import (ForgetAnswer, RequestAnswer, RetentionDue, SubjectDecision, SubjectEvent,
                                         SubjectView)

T = TypeVar("T")


def _path(subject: str, tail: str = "") -> str:
    return f"/v1/subjects/{quote(subject, safe='')}{tail}"


def _key(given: str | None) -> dict[str, str]:
    return {"Idempotency-Key": given or f"client-{uuid.uuid4()}"}


class _SubjectOps:
    """The exchanges, as generators of client._Call (the clients drive them)."""

    @staticmethod
    def send(call: Any, model: type[T]) -> Generator[Any, Any, T]:
        return model.model_validate((yield call))  # type: ignore[attr-defined]


class SubjectMethods:
    """Mixed into the clients' base; `_call(method, path, json, params, headers)` builds a request."""

    def _run(self, flow: Any) -> Any:  # the client's own
        raise NotImplementedError

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> Any:
        raise NotImplementedError

    def record_event(self, subject: str, event: Mapping[str, Any], *, idempotency_key: str | None = None) -> SubjectEvent:
        """POST /v1/subjects/{id}/events: `{"kind": "begin"|"end", "fact": ...}` or `{"kind": "collected",
        "category": ..., "source": ...}`, with `at`, `channel`, `evidence`, `policy_digest` optional."""
        call = self._call("POST", _path(subject, "/events"), dict(event), headers=_key(idempotency_key))
        return self._run(_SubjectOps.send(call, SubjectEvent))

    def subject(self, subject: str) -> SubjectView:
        """GET /v1/subjects/{id}: history, facts holding now, data held, requests, tombstone."""
        return self._run(_SubjectOps.send(self._call("GET", _path(subject)), SubjectView))

    def decide_subject(self, query: Mapping[str, Any]) -> SubjectDecision:
        """POST /v1/decide with `subject` (and `at`) instead of `facts`: the decision and its evidence."""
        return self._run(_SubjectOps.send(self._call("POST", "/v1/decide", dict(query)), SubjectDecision))

    def subject_request(self, subject: str, request: Mapping[str, Any], *,
                        idempotency_key: str | None = None) -> RequestAnswer:
        """POST /v1/subjects/{id}/requests: `{"kind": "erasure"|"access"|"portability"|"objection"|"opt_out",
        "received_at"?, "channel"?, "note"?}`; erasure answers with the plan."""
        call = self._call("POST", _path(subject, "/requests"), dict(request), headers=_key(idempotency_key))
        return self._run(_SubjectOps.send(call, RequestAnswer))

    def retention_due(self, *, at: str | None = None, limit: int = 1000,
                      within_days: int | None = None) -> RetentionDue:
        """GET /v1/retention/due: what may no longer be kept at `at` (RFC 3339; default now), and with
        `within_days` what becomes due in that many days."""
        params = {k: v for k, v in (("at", at), ("limit", limit), ("within_days", within_days)) if v is not None}
        return self._run(_SubjectOps.send(self._call("GET", "/v1/retention/due", params=params), RetentionDue))

    def forget_subject(self, subject: str, request_id: str) -> ForgetAnswer:
        """DELETE /v1/subjects/{id}: erase the subject's records, keeping a tombstone (needs subjects:write)."""
        call = self._call("DELETE", _path(subject), params={"request_id": request_id})
        return self._run(_SubjectOps.send(call, ForgetAnswer))
