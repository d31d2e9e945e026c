"""A client for the decision API, with the library's `decide` / `decide_many`.

    from policy_engine.client import Client
    with Client("http://127.0.0.1:8181", token=None) as pe:
        d = pe.decide({"action": "use", "data": "email", "source": "forum", "purpose": "marketing"})
        d.decision, d.reasons, d.policy.digest

Answers are the library's `Decision` models. A query the server refuses (malformed, unknown
term) raises the library's `QueryError` with the same code, field and suggestions; anything else
the server refuses (auth, limits) raises `APIError`; a network failure is httpx's own error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:
    import httpx
except ModuleNotFoundError as _err:  # the HTTP client is an extra: say which
    raise ModuleNotFoundError(f"policy_engine.client needs httpx (no module named {_err.name!r}); install it "
                              "with: pip install 'policy-engine[client]'", name=_err.name) from None

from policy_engine import Decision, Query, QueryError, __version__


class APIError(Exception):
    """A refusal that is not about the query itself: 401/403 (token), 413 (limits), 5xx."""

    def __init__(self, status: int, code: str, message: str, body: Any = None):
        super().__init__(f"HTTP {status}: {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


def _as_json(query: Mapping[str, Any] | Query) -> Any:
    if isinstance(query, Query):
        return query.model_dump(mode="json", exclude_none=True)  # facts None -> omitted: the same meaning
    return query


def _query_error(err: Mapping[str, Any]) -> QueryError:
    return QueryError(str(err.get("code", "query.invalid")), str(err.get("message", "")), err.get("field"),
                      list(err.get("suggestions") or []))


class Client:
    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 10.0, batch_size: int = 1000,
                 transport: httpx.BaseTransport | None = None):
        headers = {"User-Agent": f"policy-engine-client/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.batch_size = batch_size
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout,
                                  transport=transport)

    # ---- the library's interface ------------------------------------------------------------
    def decide(self, query: Mapping[str, Any] | Query) -> Decision:
        body = self._post("/v1/decide", _as_json(query))
        return Decision.model_validate(body)

    def decide_many(self, queries: Iterable[Mapping[str, Any] | Query]) -> list[Decision]:
        """One Decision per query, in order, sent in batches of `batch_size`. The first bad query
        raises its QueryError with `index` set to its position, as the library does."""
        items = [_as_json(q) for q in queries]
        out: list[Decision] = []
        for start in range(0, len(items), self.batch_size):
            body = self._post("/v1/decide/batch", {"queries": items[start:start + self.batch_size]})
            for offset, answer in enumerate(body["answers"]):
                if "error" in answer:
                    err = _query_error(answer["error"])
                    err.index = start + offset  # type: ignore[attr-defined]
                    raise err
                out.append(Decision.model_validate(answer))
        return out

    # ---- the rest of the API ----------------------------------------------------------------
    def policy(self) -> dict[str, Any]:
        return self._get("/v1/policy")

    def terms(self) -> dict[str, Any]:
        return self._get("/v1/terms")

    def data_map(self, **params: Any) -> dict[str, Any]:
        return self._get("/v1/map", params={k: v for k, v in params.items() if v is not None})

    def reload(self) -> dict[str, Any]:
        """POST /v1/admin/reload (needs an admin token). A policy that fails to check -> APIError 422."""
        return self._post("/v1/admin/reload", None)

    def ready(self) -> bool:
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

    # ---- plumbing ------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._check(self._http.get(path, params=params))

    def _post(self, path: str, body: Any) -> Any:
        return self._check(self._http.post(path, json=body) if body is not None else self._http.post(path))

    @staticmethod
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
