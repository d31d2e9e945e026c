"""POST /v1/decide and POST /v1/decide/batch: both parse, answer through `Decider.decide` and log
through `record`; a single query is a batch of one that answers with its one slot.

Every answer gets a `decision_id` (a UUIDv7, ids.py), the first field of its JSON object and the
id of its row in the decision log; the single endpoint also sends it as `Decision-Id`, so a 304
(which has no body) still names the decision it logged. The request's valid `traceparent`
(correlation.py) goes into each of its rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from policy_engine.server import schemas
from policy_engine.server.deciding import Answered, Outcome, Refused
from policy_engine.server.decision_log import DecisionSink
from policy_engine.server.errors import ApiError, dumps
from policy_engine.server.limits import parse_json, read_body
from policy_engine.server.log_writer import IDS, catch_up
from policy_engine.server.routes import JSON, WRITE_ERRORS, DirectRoute
from policy_engine.server.routes import subjects as subject_routes
from policy_engine.server.state import ServerState, state_of

router = APIRouter(route_class=DirectRoute, tags=["decisions"])
_DECIDE_HEADERS = {
    "ETag": {"description": "a weak validator of the decision (policy digest and query): send it back as "
                            "If-None-Match to get 304 while the answer is unchanged", "schema": {"type": "string"}},
    "Decision-Id": {"description": schemas.DECISION_ID, "schema": {"type": "string"}},
}


@dataclass(slots=True)
class Reply:
    """An answer as both front doors send it (the route below and fastpath.py)."""
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]  # beyond content-type and content-length
    decision: str  # the metrics label: allow | deny | conditional | batch | error


async def _answer(state: ServerState, queries: list[Any], endpoint: str, traceparent: str | None,
                  authorization: str | None) -> tuple[list[Outcome], list[str]]:
    """Answer from the policy served when the request started; count, number and log every answer.
    Returns the outcomes and the decision ids of the answered ones, in order."""
    outcomes = await subject_routes.decide(authorization, state, queries)  # subject questions read the store
    metrics = state.metrics
    counts: Counter[str] = Counter()
    answered: list[Answered] = []
    for outcome in outcomes:
        if type(outcome) is Refused:
            metrics.query_errors.labels(endpoint, outcome.code).inc()
        else:
            counts[outcome.enc.label] += 1
            answered.append(outcome)  # type: ignore[arg-type]
    for label, n in counts.items():
        metrics.count_decisions(endpoint, label, n)
    ids = IDS.block(len(answered))
    await record(state.log, answered, ids, traceparent)
    return outcomes, ids


def with_id(body: bytes, decision_id: str) -> bytes:
    """The encoded answer `{"decision":...}` with `"decision_id":"..."` as its first field."""
    return b'{"decision_id":"' + decision_id.encode() + b'",' + body[1:]


def take(sink: DecisionSink, answered: list[Any], ids: list[str],
         traceparent: str | None, latency: float | None = None) -> Any:
    """Give the answers to the log now (`latency`: every one's, when they share it, as the memo's
    hits of one request do; else each its own). Returns what to await before answering (audit
    mode: until their rows are committed; buffered: while the writer is far behind), or None:
    nothing to wait for, the common case, which then costs no coroutine (direct.py answers on the
    spot). Raises ApiError when the log refuses them (audit mode)."""
    if not answered:
        return None
    put = getattr(sink, "record_answers", None)  # a sink of the older protocol has only record_many
    if put is None:
        committed = sink.record_many([(a.query, a.enc, a.latency if latency is None else latency, i)
                                      for a, i in zip(answered, ids)], traceparent)
    elif latency is None:
        committed = put(answered, ids, traceparent)  # a few C-level passes, no object per answer
    else:
        committed = put(answered, ids, traceparent, latency)
    if committed is not None:
        return committed
    if sink.pending() > sink.high_water:
        return catch_up(sink)
    return None


async def record(sink: DecisionSink, answered: list[Answered], ids: list[str], traceparent: str | None) -> None:
    """Log the answers, waiting as `take` says."""
    waiting = take(sink, answered, ids, traceparent)
    if waiting is not None:
        await waiting


async def single(state: ServerState, body: bytes, traceparent: str | None, if_none_match: str | None,
                 authorization: str | None = None) -> Reply:
    """POST /v1/decide after auth and the body limit: parse, answer, log. Raises ApiError."""
    query = parse_json(body, state.config.max_depth)
    try:
        (outcome,), ids = await _answer(state, [query], "/v1/decide", traceparent, authorization)
    except ApiError as err:
        state.metrics.query_errors.labels("/v1/decide", err.code).inc()
        raise
    if type(outcome) is Refused:
        return Reply(outcome.status, dumps(outcome.body), [], "error")  # type: ignore[union-attr]
    enc = outcome.enc  # type: ignore[union-attr]
    # The decision depends only on the policy digest and the query: its hash (enc.key, over bytes that
    # hold the digest) is the validator. Weak (W/): two answers with one tag say the same, but each
    # carries its own decision_id. A caller that has it sends If-None-Match and gets 304.
    headers = [(b"etag", b'W/"%s"' % enc.key.encode()), (b"cache-control", b"no-cache"),
               (b"decision-id", ids[0].encode())]
    if if_none_match and matches(if_none_match, enc.key):
        return Reply(304, b"", headers, enc.label)
    return Reply(200, with_id(enc.body, ids[0]), headers, enc.label)


async def batch(state: ServerState, body: bytes, traceparent: str | None, authorization: str | None = None) -> Reply:
    """POST /v1/decide/batch after auth and the body limit. Raises ApiError."""
    queries = batch_queries(parse_json(body, state.config.max_depth), state.config.max_batch)
    try:
        outcomes, ids = await _answer(state, queries, "/v1/decide/batch", traceparent, authorization)
    except ApiError as err:
        state.metrics.query_errors.labels("/v1/decide/batch", err.code).inc()
        raise
    next_id = iter(ids).__next__
    parts = [with_id(o.enc.body, next_id()) if type(o) is Answered else dumps(o.body)  # type: ignore[union-attr]
             for o in outcomes]
    return Reply(200, b'{"answers":[' + b",".join(parts) + b"]}", [], "batch")


def _response(reply: Reply) -> Response:
    response = Response(reply.body, status_code=reply.status, media_type=None if reply.status == 304 else JSON)
    response.raw_headers.extend(reply.headers)
    return response


@router.post("/v1/decide", response_model=None, operation_id="decide",
             responses={200: {"model": schemas.DecisionAnswer, "headers": _DECIDE_HEADERS},
                        304: {"description": "the answer has not changed (If-None-Match)", "headers": _DECIDE_HEADERS},
                        **WRITE_ERRORS},
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {
                 "$ref": "#/components/schemas/Query"}}}}})
async def decide(request: Request) -> Response:
    """Answer one query (docs/semantics.md)."""
    state = state_of(request)
    state.decide_auth.check(request)
    request.state.decision = "error"
    reply = await single(state, await read_body(request, state.config.max_body_bytes),
                         request.scope["state"].get("traceparent"), request.headers.get("if-none-match"),
                         request.headers.get("authorization"))
    request.state.decision = reply.decision
    return _response(reply)


def matches(if_none_match: str, key: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): `"key"` and `W/"key"` both match."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or f'"{key}"' in tags or f'W/"{key}"' in tags


@router.post("/v1/decide/batch", response_model=None, operation_id="decide_batch",
             responses={200: {"content": {JSON: {"schema": {"$ref": "#/components/schemas/BatchAnswer"}}},
                              "description": "one answer or error object per query, in order"}, **WRITE_ERRORS},
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {
                 "$ref": "#/components/schemas/BatchRequest"}}}}})
async def decide_batch(request: Request) -> Response:
    """Answer many queries: `{"queries": [...]}` -> `{"answers": [...]}`, in order. A bad query gets an
    error object in its slot; the batch still succeeds."""
    state = state_of(request)
    state.decide_auth.check(request)
    request.state.decision = "batch"
    reply = await batch(state, await read_body(request, state.config.max_body_bytes),
                        request.scope["state"].get("traceparent"), request.headers.get("authorization"))
    return _response(reply)


def batch_queries(data: Any, max_batch: int) -> list[Any]:
    if not isinstance(data, dict):
        raise ApiError(422, "query.wrong_type", 'a batch is a JSON object: {"queries": [...]}', field="queries")
    extra = sorted(k for k in data if k != "queries")
    if extra:
        raise ApiError(422, "query.unknown_field", f"a batch has one field, `queries`; unknown: {extra[0]}",
                       field=extra[0], suggestions=["queries"])
    if "queries" not in data:
        raise ApiError(422, "query.missing_field", 'a batch needs `queries`: {"queries": [...]}', field="queries")
    queries = data["queries"]
    if not isinstance(queries, list):
        raise ApiError(422, "query.wrong_type", "`queries` must be a list of query objects", field="queries")
    if len(queries) > max_batch:
        raise ApiError(413, "request.batch_too_large",
                       f"the batch holds {len(queries)} queries; at most {max_batch} are taken per request",
                       field="queries", extra={"limit": max_batch})
    return queries
