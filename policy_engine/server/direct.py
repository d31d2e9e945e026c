"""The decision endpoints answered inside the HTTP protocol (protocol.py), without an ASGI task.

Why: measured under load, what a decision costs the server beyond deciding was mostly the ASGI
machinery around it: a task per request, the request/response cycle's two transport writes
(headers, then body), the receive/send events, the middleware chain. A question the server has
already answered (a memo hit of the Decider: most traffic) needs none of it. So when a request to
`POST /v1/decide` or `/v1/decide/batch` is simple (HTTP/1.1 keep-alive, a Content-Length within
the limit, no Expect or Transfer-Encoding, nothing pipelined in flight) the protocol collects its
body and calls `answer` here, which writes the whole response in one `transport.write`.

`answer` does the pure part first (auth, parsing, memo lookups) and gives up, returning None, at
the first thing it does not do itself: an error answer (bad JSON, 401, 413, 422), a question not
in the memo, a subject question. The protocol then hands the request to the ASGI app as uvicorn
would, body included, and nothing observable has happened yet. When the log makes the answer
wait (audit mode, until its rows are committed), the rest is finished in a task (deferred.py). Only once the answer is certain does it take decision ids,
log the rows (through `routes.decisions.take`, as the ASGI path does, or, for one memo hit
without a trace context, the log's `hit`, log_runs.py), count the metrics and
build the bytes, which are those of the ASGI fast path (fastpath.py): same status line, headers
in the same order, same body but for the decision id. So no request is answered differently,
only faster; tests/server/test_direct.py compares the two byte for byte.

The app registers its ServerState at lifespan start (`attach`), in each worker process; a server
whose app is not ours, or ours with a middleware added after create_app (the JSON access log,
which must see every request), never takes this path.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Union

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from policy_engine.server.correlation import made_request_id, valid_request_id, valid_traceparent
from policy_engine.server.errors import ApiError, dumps
from policy_engine.server.fastpath import GZIP_MIN_BYTES, gzip_body
from policy_engine.server.limits import DECODER, parse_json
from policy_engine.server.log_writer import IDS
from policy_engine.server.routes.decisions import batch_queries, matches, take, with_id

if TYPE_CHECKING:
    from policy_engine.server.encode import Remembered
    from policy_engine.server.state import ServerState

SINGLE = b"/v1/decide"
BATCH = b"/v1/decide/batch"
_CT = b"content-type: application/json\r\n"
_VARY = b"vary: Accept-Encoding\r\n"
_GZIP = b"content-encoding: gzip\r\n"
_CACHE = b"cache-control: no-cache\r\n"

Headers = list[tuple[bytes, bytes]]
# What `answer` gives: the response's bytes; or, when logging made it wait (audit mode: until the
# rows are committed; buffered: while the writer is far behind), the half-run wait for it, what it
# waits on, and the functions that make the answer's bytes after it, or the error's.
Deferred = tuple[Awaitable[None], Any, Callable[[], bytes], Callable[[ApiError], bytes]]
Result = Union[bytes, Deferred, None]


def attach(app: Any, state: ServerState) -> None:
    """At lifespan start: let the protocol answer for `app`, unless a middleware was added after
    create_app (it must see every request). Starlette builds its middleware stack on the first
    call (the lifespan's), after which none can be added, so this is decided once."""
    app.direct_state = state if len(app.user_middleware) == app.own_middleware else None


def detach(app: Any) -> None:
    app.direct_state = None


def state_for(app: Any) -> ServerState | None:
    """The ServerState to answer with, found through the wrappers uvicorn puts around the app
    (ProxyHeadersMiddleware, ...), or None when the app is not ours or not started."""
    for _ in range(8):
        if app is None:
            return None
        state = getattr(app, "direct_state", None)
        if state is not None:
            return state  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
    return None


def content_length(headers: Headers, max_headers: int, max_body: int) -> int | None:
    """The body's declared length when the request's head lets the protocol answer it, else None."""
    if len(headers) > max_headers:
        return None
    length = None
    for name, value in headers:
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif name == b"transfer-encoding" or name == b"expect":
            return None
    return length if length is not None and length <= max_body else None


def answer(state: ServerState, path: bytes, headers: Headers, body: bytes, default_headers: Headers) -> Result:
    """The whole response to a decision request, or None (nothing done: the ASGI app answers)."""
    start = time.perf_counter()
    auth = if_none_match = request_id = traceparent = None
    gzip_ok = False
    for name, value in headers:  # one pass; the last valid X-Request-ID and traceparent win, as in correlate()
        if name == b"authorization":
            auth = value
        elif name == b"if-none-match":
            if_none_match = value
        elif name == b"accept-encoding":
            gzip_ok = b"gzip" in value.lower()
        elif name == b"x-request-id":
            request_id = valid_request_id(value) or request_id
        elif name == b"traceparent":
            traceparent = valid_traceparent(value) or traceparent
    authorization = None if auth is None else auth.decode("latin-1")
    config = state.config
    try:
        state.decide_auth.check_header(authorization)
        # limits.parse_json without its depth check, which costs as much as the parse on a batch:
        # a query found in the memo is an object of scalars and one list of scalars (anything
        # deeper is unhashable, so never a hit), so once every query is a hit the body is known to
        # nest at most 4 deep (a batch, its list, a query, its facts) and parse_json would have
        # returned the same value. The parser itself bounds its recursion (RecursionError).
        data = DECODER.decode(body.decode("utf-8")) if config.max_depth >= 4 else parse_json(body, config.max_depth)
        queries = [data] if path == SINGLE else batch_queries(data, config.max_batch)
    except (ApiError, ValueError, RecursionError):  # ValueError: not UTF-8, not JSON, NaN, a huge integer
        return None
    hits = state.decider.hits(state.served.policy, queries)
    if hits is None:
        return None
    answered, each = hits
    # ---- certain from here: the observable part, as routes/decisions._answer does it
    sink = state.log
    n = len(answered)
    metrics = state.metrics
    endpoint = "/v1/decide" if path == SINGLE else "/v1/decide/batch"
    if n == 1:
        label = answered[0].enc.label
        metrics.count_decisions(endpoint, label)
    else:
        counts: dict[str, int] = {}
        for a in answered:
            label = a.enc.label
            counts[label] = counts.get(label, 0) + 1
        for label, k in counts.items():
            metrics.count_decisions(endpoint, label, k)
    ids = IDS.block(n)
    if request_id is None:
        request_id = made_request_id()

    def respond() -> bytes:
        if path == SINGLE:
            status, out = _single(answered[0], ids[0], request_id, traceparent, if_none_match, gzip_ok,
                                  default_headers)
            decision = answered[0].enc.label
        else:
            status, out, decision = 200, _batch(answered, ids, request_id, traceparent, gzip_ok, default_headers), "batch"
        metrics.observe_request(endpoint, "POST", status, decision, time.perf_counter() - start)
        return out

    def refuse(err: ApiError) -> bytes:  # the log would not take the rows (audit mode): as fastpath.serve says it
        metrics.query_errors.labels(endpoint, err.code).inc()
        payload = dumps(err.body())
        out = _head(err.status, default_headers)
        out.append(_CT)
        out.extend(k.lower().encode("latin-1") + b": " + v.encode("latin-1") + b"\r\n" for k, v in (err.headers or {}).items())
        _ids(out, request_id, traceparent)
        out.append(b"content-length: %d\r\n\r\n" % len(payload))
        out.append(payload)
        metrics.observe_request(endpoint, "POST", err.status, "error" if path == SINGLE else "batch",
                                time.perf_counter() - start)
        return b"".join(out)

    hit = getattr(sink, "hit", None)  # the log's short way in for one memo hit (log_runs.py)
    try:
        if hit is not None and n == 1 and traceparent is None:
            waiting = hit(answered[0], ids[0], each)
        else:
            waiting = take(sink, answered, ids, None if traceparent is None else traceparent.decode(), each)
    except ApiError as err:
        return refuse(err)
    if waiting is None:  # the log took the rows at once (buffered mode): done
        return respond()
    logged = _wait(waiting)
    try:
        waited = logged.send(None)
    except StopIteration:
        return respond()
    except ApiError as err:
        return refuse(err)
    return logged, waited, respond, refuse


async def _wait(waiting: Awaitable[None]) -> None:
    await waiting


def _head(status: int, default_headers: Headers) -> list[bytes]:
    out = [STATUS_LINE[status]]
    for name, value in default_headers:  # the date (uvicorn's), as the ASGI path sends it first
        out.append(name + b": " + value + b"\r\n")
    return out


def _ids(out: list[bytes], request_id: bytes, traceparent: bytes | None) -> None:
    out.append(b"x-request-id: " + request_id + b"\r\n")
    if traceparent is not None:
        out.append(b"traceparent: " + traceparent + b"\r\n")


def _single(a: Remembered, decision_id: str, request_id: bytes, traceparent: bytes | None,
            if_none_match: bytes | None, gzip_ok: bool, default_headers: Headers) -> tuple[int, bytes]:
    enc = a.enc
    status = 304 if if_none_match and matches(if_none_match.decode("latin-1"), enc.key) else 200
    out = _head(status, default_headers)
    out.append(b'etag: W/"' + enc.key.encode() + b'"\r\n')
    out.append(_CACHE)
    out.append(b"decision-id: " + decision_id.encode() + b"\r\n")
    _ids(out, request_id, traceparent)
    if status == 304:
        out.append(b"\r\n")
        return 304, b"".join(out)
    return 200, _finish(out, with_id(enc.body, decision_id), gzip_ok)


def _batch(answered: list[Remembered], ids: list[str], request_id: bytes, traceparent: bytes | None,
           gzip_ok: bool, default_headers: Headers) -> bytes:
    out = _head(200, default_headers)
    _ids(out, request_id, traceparent)
    parts = [b'{"decision_id":"' + i.encode() + b'",' + a.enc.body[1:] for a, i in zip(answered, ids)]
    return _finish(out, b'{"answers":[' + b",".join(parts) + b"]}", gzip_ok)


def _finish(out: list[bytes], payload: bytes, gzip_ok: bool) -> bytes:
    out.append(_CT)
    if len(payload) >= GZIP_MIN_BYTES:
        out.append(_VARY)
        if gzip_ok:
            payload = gzip_body(payload)
            out.append(_GZIP)
    out.append(b"content-length: %d\r\n\r\n" % len(payload))
    out.append(payload)
    return b"".join(out)
