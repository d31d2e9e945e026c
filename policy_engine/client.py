"""Clients for the decision API, with the library's `decide` / `decide_many`: `Client` (blocking)
and `AsyncClient` (asyncio), with the same methods.

    from policy_engine.client import Client, AsyncClient
    with Client("http://127.0.0.1:8181", token=None) as pe:
        d = pe.decide({"action": "use", "data": "email", "source": "forum", "purpose": "marketing"})
        d.decision, d.reasons, d.policy.digest
    async with AsyncClient("http://127.0.0.1:8181") as pe:
        d = await pe.decide(...)

Answers are `ServedDecision`s: the library's `Decision` models with the server's `decision_id`
(`.as_decision()` drops it), and `RightsAnswer` for `rights`; the policy, its terms and the data map are typed
models too (`PolicyInfo`, `Terms`, `DataMap`: policy_engine/client_models.py). A query the server refuses (malformed, unknown
term) raises the library's `QueryError` with the same code, field and suggestions; anything else
the server refuses (auth, limits, 5xx) raises `APIError`; a network failure is httpx's own error.

The subject store's methods (events, the subject view, subject decisions, requests, the sweep,
forget) are in client_subjects.py, mixed into both clients.

A 503 (the server is overloaded, starting, or its decision log cannot take the answer) and a
failed connection are retried, with exponential backoff and full jitter, honouring the server's
`Retry-After`, within a bounded number of attempts and a bounded total time (`Retry`). Every
endpoint is safe to repeat: a decision changes nothing but the log, a reload reads the same file.

The HTTP exchanges are written once, as generators that yield requests and receive answers
(`_Ops`); each client only drives them with its own I/O, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

try:
    import httpx
except ModuleNotFoundError as _err:  # the HTTP client is an extra: say which
    raise ModuleNotFoundError(f"policy_engine.client needs httpx (no module named {_err.name!r}); install it "
                              "with: pip install 'policy-engine[client]'", name=_err.name) from None

from policy_engine import Query, QueryError, __version__
from policy_engine.client_models import (DataMap, Explanation, MapAnswer, MapRule, MatchingRule, PolicyInfo,
                                         PolicySummary, ReloadAnswer, RuleRef, ServedDecision, Term, Terms)
from policy_engine.engine import query_time
from policy_engine.engine.rights import RightsAnswer
from policy_engine.client_subjects import SubjectMethods  # the subject store's methods (issue 11)

__all__ = ["Client", "AsyncClient", "Retry", "APIError", "PolicyInfo", "Terms", "Term", "DataMap", "MapAnswer",
           "MapRule", "RuleRef", "PolicySummary", "ReloadAnswer", "RightsAnswer", "ServedDecision", "Explanation",
           "MatchingRule"]

T = TypeVar("T")


class APIError(Exception):
    """A refusal that is not about the query itself: 401/403 (token), 413 (limits), 5xx."""

    def __init__(self, status: int, code: str, message: str, body: Any = None):
        super().__init__(f"HTTP {status}: {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


# ---- retries ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retry:
    """When and how long to retry. `attempts` counts the first try (1: never retry); `total` bounds
    the time from the first try, waits included (a wait that would pass it is not begun). The
    n-th wait is uniform in [0, min(max_backoff, backoff * 2**n)] ("full jitter"), or the
    server's Retry-After when it gives one (capped at max_retry_after)."""

    attempts: int = 4
    backoff: float = 0.1
    max_backoff: float = 5.0
    total: float = 30.0
    max_retry_after: float = 30.0
    statuses: frozenset[int] = frozenset({503})
    errors: tuple[type[Exception], ...] = (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0 or self.total < 0:
            raise ValueError("Retry: attempts must be >= 1 and the times >= 0")

    def wait(self, attempt: int, started: float, retry_after: str | None, now: float) -> float | None:
        """Seconds to wait before try number attempt+1, or None: give up."""
        if attempt >= self.attempts:
            return None
        delay = _retry_after_seconds(retry_after, time.time())
        if delay is None:
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        else:
            delay = min(delay, self.max_retry_after)
        return delay if now - started + delay <= self.total else None


NO_RETRY = Retry(attempts=1)


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP-date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# ---- the exchanges, once for both clients ----------------------------------------------------
@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None  # e.g. the subject writes' Idempotency-Key


_Flow = Generator[_Call, Any, T]


def _as_json(query: Mapping[str, Any] | Query) -> Any:
    if isinstance(query, Query):
        return query.model_dump(mode="json", exclude_none=True)  # facts None -> omitted: the same meaning
    if isinstance(query, Mapping):  # aware datetimes (`at`, `collected_at`, fact times) as RFC 3339 text
        return query_time.as_json(query)
    return query


def _query_error(err: Mapping[str, Any]) -> QueryError:
    return QueryError(str(err.get("code", "query.invalid")), str(err.get("message", "")), err.get("field"),
                      list(err.get("suggestions") or []))


class _Ops:
    @staticmethod
    def decide(query: Mapping[str, Any] | Query) -> _Flow[ServedDecision]:
        return ServedDecision.model_validate((yield _Call("POST", "/v1/decide", _as_json(query))))

    @staticmethod
    def decide_many(queries: Iterable[Mapping[str, Any] | Query], batch_size: int) -> _Flow[list[ServedDecision]]:
        items = [_as_json(q) for q in queries]
        out: list[ServedDecision] = []
        for start in range(0, len(items), batch_size):
            body = yield _Call("POST", "/v1/decide/batch", {"queries": items[start:start + batch_size]})
            for offset, answer in enumerate(body["answers"]):
                if "error" in answer:
                    err = _query_error(answer["error"])
                    err.index = start + offset  # type: ignore[attr-defined]
                    raise err
                out.append(ServedDecision.model_validate(answer))
        return out

    @staticmethod
    def rights(question: Mapping[str, Any]) -> _Flow[RightsAnswer]:
        return RightsAnswer.model_validate((yield _Call("POST", "/v1/rights", dict(question))))

    @staticmethod
    def explain(query: Mapping[str, Any] | Query) -> _Flow[Explanation]:
        return Explanation.model_validate((yield _Call("POST", "/v1/explain", _as_json(query))))

    @staticmethod
    def get(path: str, model: type[T], params: dict[str, Any] | None = None) -> _Flow[T]:
        return model.model_validate((yield _Call("GET", path, params=params)))  # type: ignore[attr-defined]

    @staticmethod
    def map_params(data: str | None, source: str | None, recipient: str | None, purpose: str | None,
                   no_consent: bool, facts: Iterable[str] | None, transfers: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"data": data, "source": source, "recipient": recipient, "purpose": purpose,
                                  "no_consent": "true" if no_consent else None,
                                  "transfers": "true" if transfers else None,
                                  "facts": None if facts is None else ",".join(facts)}  # "": none hold
        return {k: v for k, v in params.items() if v is not None}


def _check(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and body is not None:
        return body
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        raise APIError(response.status_code, "http.error", response.text[:200] or response.reason_phrase, body)
    code = str(err.get("code", "error"))
    if code.startswith("query.") and 400 <= response.status_code < 500:
        raise _query_error(err)
    raise APIError(response.status_code, code, str(err.get("message", "")), body)


def _final(outcome: httpx.Response | Exception) -> Any:
    """The last try's outcome: an error to raise, or an answer to check and return."""
    if isinstance(outcome, Exception):
        raise outcome
    return _check(outcome)


class _Base(SubjectMethods):
    _HTTP: Any = None  # httpx.Client or httpx.AsyncClient

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 10.0, batch_size: int = 1000,
                 retry: Retry | None = None, transport: Any = None):
        """`transport` is httpx's (for tests or a custom connection pool)."""
        self.retry = retry if retry is not None else Retry()
        self.batch_size = batch_size
        self._headers = {"User-Agent": f"policy-engine-client/{__version__}", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._http = self._HTTP(base_url=base_url.rstrip("/"), headers=self._headers, timeout=timeout,
                                transport=transport)

    def _next_wait(self, attempt: int, started: float, outcome: httpx.Response | Exception) -> float | None:
        """After a try: None when its outcome is final (an answer to return, or an error to raise)."""
        if isinstance(outcome, Exception):
            if not isinstance(outcome, self.retry.errors):
                return None
            return self.retry.wait(attempt, started, None, time.monotonic())
        if outcome.status_code not in self.retry.statuses:
            return None
        return self.retry.wait(attempt, started, outcome.headers.get("Retry-After"), time.monotonic())

    # The questions, written once: `_run` is the client's own (blocking, or a coroutine to await),
    # so on AsyncClient each of these returns an awaitable of the same value.

    def decide(self, query: Mapping[str, Any] | Query) -> ServedDecision:
        return self._run(_Ops.decide(query))

    def decide_many(self, queries: Iterable[Mapping[str, Any] | Query]) -> list[ServedDecision]:
        """One Decision per query, in order, sent in batches of `batch_size`. The first bad query
        raises its QueryError with `index` set to its position, as the library does."""
        return self._run(_Ops.decide_many(queries, self.batch_size))

    def rights(self, question: Mapping[str, Any]) -> RightsAnswer:
        """`{"right": "erasure", "facts": [...]}` (facts omitted: unknown), as `Policy.rights` answers
        it; an unknown right or fact raises QueryError with the field and suggestions."""
        return self._run(_Ops.rights(question))
    def explain(self, query: Mapping[str, Any] | Query) -> Explanation:
        """What `policy-engine explain` says about the query: sentences, the answer, the matching rules."""
        return self._run(_Ops.explain(query))

    def policy(self) -> PolicyInfo:
        return self._run(_Ops.get("/v1/policy", PolicyInfo))

    def terms(self) -> Terms:
        return self._run(_Ops.get("/v1/terms", Terms))

    def data_map(self, *, data: str | None = None, source: str | None = None, recipient: str | None = None,
                 purpose: str | None = None, no_consent: bool = False, facts: Iterable[str] | None = None,
                 transfers: bool = False) -> DataMap:
        """facts None: unknown (conditional answers); [] none hold; [...] exactly these hold.
        transfers: also list the transfers the policy allows (region, safeguard)."""
        params = _Ops.map_params(data, source, recipient, purpose, no_consent, facts, transfers)
        return self._run(_Ops.get("/v1/map", DataMap, params))

    def _run(self, flow: _Flow[T]) -> Any:
        raise NotImplementedError

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> _Call:
        return _Call(method, path, json, params, headers)

    @staticmethod
    def _kwargs(call: _Call) -> dict[str, Any]:
        kw: dict[str, Any] = {"params": call.params}
        if call.json is not None:
            kw["json"] = call.json
        if call.headers:
            kw["headers"] = call.headers
        return kw


class Client(_Base):
    """The blocking client."""

    _HTTP = httpx.Client

    def reload(self) -> ReloadAnswer:
        """POST /v1/admin/reload (needs an admin token). A policy that fails to check -> APIError 422."""
        return ReloadAnswer.model_validate(self._send(_Call("POST", "/v1/admin/reload")))

    def ready(self) -> bool:
        """GET /readyz once, no retries: is this server ready to answer?"""
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, flow: _Flow[T]) -> T:
        try:
            call = next(flow)
            while True:
                call = flow.send(self._send(call))
        except StopIteration as done:
            return done.value

    def _send(self, call: _Call) -> Any:
        started, attempt = time.monotonic(), 1
        while True:
            try:
                outcome: httpx.Response | Exception = self._http.request(call.method, call.path, **self._kwargs(call))
            except Exception as err:  # noqa: BLE001  (judged by _next_wait; re-raised when not retried)
                outcome = err
            wait = self._next_wait(attempt, started, outcome)
            if wait is None:
                return _final(outcome)
            time.sleep(wait)
            attempt += 1


class AsyncClient(_Base):
    """The asyncio client: the same methods as `Client`, awaited."""

    _HTTP = httpx.AsyncClient

    async def reload(self) -> ReloadAnswer:
        return ReloadAnswer.model_validate(await self._send(_Call("POST", "/v1/admin/reload")))

    async def ready(self) -> bool:
        try:
            return (await self._http.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _run(self, flow: _Flow[T]) -> T:
        try:
            call = next(flow)
            while True:
                call = flow.send(await self._send(call))
        except StopIteration as done:
            return done.value

    async def _send(self, call: _Call) -> Any:
        started, attempt = time.monotonic(), 1
        while True:
            try:
                outcome: httpx.Response | Exception = await self._http.request(call.method, call.path,
                                                                               **self._kwargs(call))
            except Exception as err:  # noqa: BLE001  (judged by _next_wait; re-raised when not retried)
                outcome = err
            wait = self._next_wait(attempt, started, outcome)
            if wait is None:
                return _final(outcome)
            await asyncio.sleep(wait)
            attempt += 1
