"""The subject store's endpoints (/v1/subjects/..., /v1/retention/due): the router is built by
`policy_engine.subjects.http` over this server's state (served policy, decision log, encoder), and
is empty unless POLICY_ENGINE_SUBJECT_STORE names a store.

`decide` is the path of `/v1/decide` and `/v1/decide/batch`: questions naming `"subject"` are
answered from the store (facts as of `at`, with `evidence`), the others by the server's decider
as before; the log row of a subject question keeps the subject, `at` and the evidence. A subject
question needs a token with subjects:read besides the decision token, as it reads personal data.
With the store down, a single subject question is a 503 with Retry-After; in a batch that is the
slot's error, and the fact questions beside it are answered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any

from fastapi import APIRouter

from policy_engine.engine.query import QueryError
from policy_engine.server.deciding import Answered, Outcome, Refused
from policy_engine.server.errors import ApiError, query_error_body, query_error_status
from policy_engine.server.state import ServerState
from policy_engine.subjects.decide import decide_for_subject
from policy_engine.subjects.http import RETRY_AFTER, STORE_ENV, Subjects, logged_query, subjects_router
from policy_engine.subjects.model import StoreUnavailable, SubjectError


def router_for(state: Any) -> APIRouter:
    router = subjects_router(state)
    state.subjects = getattr(router, "subjects", None)  # the store /v1/decide reads subject questions from
    return router


def _is_subject(query: Any) -> bool:
    return type(query) is dict and "subject" in query


async def decide(authorization: str | None, state: ServerState, queries: list[Any]) -> list[Outcome]:
    """Answer a list of questions from the policy served when the request started (`authorization`:
    the request's Authorization header, for the subjects:read check)."""
    policy = state.served.policy
    if not any(_is_subject(q) for q in queries):  # the common case: one scan, then the decider alone
        return await state.decider.decide(policy, queries)
    subjects: Subjects | None = getattr(state, "subjects", None)
    if subjects is None:
        raise ApiError(422, "query.no_subject_store", "this question names `subject`, but this server has no subject "
                       f"store: start it with {STORE_ENV} set, or ask with `facts`", field="subject")
    try:
        subjects.auth.check(authorization, "subjects:read")
    except SubjectError as err:
        raise ApiError(err.status, err.code, err.message, headers=getattr(err, "headers", None)) from None
    others = [i for i, q in enumerate(queries) if not _is_subject(q)]
    out: list[Outcome | None] = [None] * len(queries)
    if others:
        for i, outcome in zip(others, await state.decider.decide(policy, [queries[i] for i in others])):
            out[i] = outcome
    wanted = [i for i, q in enumerate(queries) if _is_subject(q)]
    answered = await state.decider.offload(_answer_all, state, policy, subjects, [queries[i] for i in wanted])
    for i, outcome in zip(wanted, answered):
        out[i] = outcome
    if len(queries) == 1 and isinstance(out[0], Refused) and out[0].status == 503:
        raise ApiError(503, out[0].code, out[0].body["error"]["message"], headers={"Retry-After": RETRY_AFTER})
    return out  # type: ignore[return-value]  (every slot is filled)


def _answer_all(state: ServerState, policy: Any, subjects: Subjects, queries: list[Any]) -> list[Outcome]:
    """On a pool thread: each subject question against the store, its answer encoded with the evidence."""
    outcomes: list[Outcome] = []
    for raw in queries:
        start = time.perf_counter()
        try:
            answer, logged = decide_for_subject(policy, subjects.store(), raw)
        except QueryError as err:
            body = query_error_body(err)
            outcomes.append(Refused(body, query_error_status(body["error"]["code"])))
            continue
        except StoreUnavailable as err:
            outcomes.append(Refused({"error": {"code": "subjects.unavailable", "message": str(err), "field": None,
                                               "suggestions": []}}, 503))
            continue
        enc = state.encode(policy.decide(logged_query(logged)))  # the memoised Decision: label, rules, digest
        body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        enc = dataclasses.replace(enc, body=body, key=hashlib.blake2b(body, digest_size=16).hexdigest())
        outcomes.append(Answered(logged, enc, time.perf_counter() - start))
    return outcomes
