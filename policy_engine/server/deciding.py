"""The one path from queries to answers, shared by `/v1/decide` (a batch of one) and
`/v1/decide/batch`.

Why it looks like this: a decision can be CPU-heavy (a policy whose partial evaluation is
expensive), and CPU work on the event loop stalls every other request, `/healthz` included.
So the event loop only does what is cheap and bounded: a lookup in a memo of finished answers
(a repeated question; most traffic). Everything else — validation, the engine, encoding — runs
on a small thread pool, and the request waits at most `budget` seconds for it: past that it
gets 503 with `Retry-After` (the work goes on in its thread and its answer is memoised, so the
retry is usually instant). A question the pool has not started yet when its budget runs out is
dropped from the queue.
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, TypeVar

from pydantic import ValidationError

from policy_engine.language.diagnostics import PolicyError
from policy_engine.server.decision_log import query_text
from policy_engine.server.encode import Encoded, Encoder, Remembered
from policy_engine.server.errors import ApiError, query_error_body, query_error_status

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy

T = TypeVar("T")

_FIELDS = frozenset({"action", "data", "source", "purpose", "recipient", "destination", "facts"})
_UNCACHEABLE = object()


class Answered(NamedTuple):
    """A NamedTuple, not a dataclass: a batch makes one per query, and a frozen dataclass's
    __init__ (object.__setattr__ per field) cost more than the memo lookup it reports."""
    query: Any  # as asked, or its log text (a str) when answered from the memo
    enc: Encoded
    latency: float  # seconds spent deciding (a memo hit: the lookup, the batch's lookups shared out)


@dataclass(frozen=True, slots=True)
class Refused:
    body: dict[str, Any]  # the error object sent in the answer's place
    status: int

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])


Outcome = Answered | Refused


def over_budget(budget: float) -> ApiError:
    retry = max(1, math.ceil(budget))
    return ApiError(503, "request.timeout",
                    f"the answer took longer than this server's budget of {budget:g} s per request; it is still "
                    f"being worked out and will be ready for a retry (after {retry} s)",
                    headers={"Retry-After": str(retry)}, extra={"budget_s": budget})


def _key(digest: str, query: Any) -> tuple[Any, ...] | None:
    """The memo key of a plain query object (same fields, same answer), or None."""
    if type(query) is not dict or not query.keys() <= _FIELDS:
        return None
    get = query.get
    facts = get("facts")
    return (digest, get("action"), get("data"), get("source"), get("purpose"), get("recipient"),
            None if facts is None else tuple(facts) if type(facts) is list else _UNCACHEABLE, get("destination"))


def decide_one(policy: Policy, encode: Encoder, query: Any) -> Outcome:
    """One query -> its answer or its error object. Never raises for a bad query."""
    start = time.perf_counter()
    try:
        decision = policy.decide(query)
    except PolicyError as err:
        body = query_error_body(err)
        return Refused(body, query_error_status(body["error"]["code"]))
    except ValidationError as err:  # the engine turns these into QueryErrors; belt and braces
        first = err.errors()[0] if err.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        error = ApiError(422, "query.wrong_type", str(first.get("msg", "invalid query")), field=field)
        return Refused(error.body(), 422)
    return Answered(query, encode(decision), time.perf_counter() - start)


class Decider:
    """Answers lists of queries: memo hits inline, the rest on the pool within the budget."""

    def __init__(self, encode: Encoder, *, threads: int, budget: float, memo_limit: int = 50_000):
        self._encode = encode
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decide")
        self.budget = budget
        self._memo: dict[tuple[Any, ...], Remembered] = {}
        self._limit = memo_limit

    def hits(self, policy: Policy, queries: list[Any]) -> tuple[list[Remembered], float] | None:
        """Every query answered from the memo (its Remembered answers, and the lookup's time per
        answer: the latency each of them is logged with), or None at the first that is not (direct.py)."""
        digest = policy.digest
        memo_get = self._memo.get
        start = time.perf_counter()
        found = []
        for query in queries:
            if type(query) is not dict or not query.keys() <= _FIELDS:
                return None
            get = query.get
            facts = get("facts")
            try:
                hit = memo_get((digest, get("action"), get("data"), get("source"), get("purpose"), get("recipient"),
                                None if facts is None else tuple(facts) if type(facts) is list else _UNCACHEABLE,
                                get("destination")))  # _key, inline: it is most of a hit's cost
            except TypeError:  # an unhashable value
                return None
            if hit is None:
                return None
            found.append(hit)
        return found, (time.perf_counter() - start) / max(1, len(found))

    async def decide(self, policy: Policy, queries: list[Any]) -> list[Outcome]:
        hits = self.hits(policy, queries)
        if hits is not None:
            found, each = hits
            return [Answered(h.query, h.enc, each) for h in found]
        digest = policy.digest
        memo_get = self._memo.get
        clock = time.perf_counter
        out: list[Outcome | None] = []
        missing: list[int] = []
        for i, query in enumerate(queries):
            start = clock()
            key = _key(digest, query)
            try:
                hit = memo_get(key) if key is not None else None
            except TypeError:  # an unhashable value; validation will name it
                hit = None
            if hit is None:
                missing.append(i)
                out.append(None)
            else:  # the log gets the query's text, made once per question
                out.append(Answered(hit.query, hit.enc, clock() - start))
        if missing:
            computed = await self.offload(self._compute, policy, [queries[i] for i in missing])
            for i, outcome in zip(missing, computed):
                out[i] = outcome
        return out  # type: ignore[return-value]  (every slot is filled)

    def _compute(self, policy: Policy, queries: list[Any]) -> list[Outcome]:
        """On a pool thread. Memoises each answer, so one finished after its budget still serves the retry."""
        digest = policy.digest
        outcomes = []
        for query in queries:
            outcome = decide_one(policy, self._encode, query)
            if isinstance(outcome, Answered):
                key = _key(digest, query)
                if key is not None and key[-1] is not _UNCACHEABLE:
                    if len(self._memo) >= self._limit:
                        self._memo.clear()
                    try:
                        self._memo[key] = Remembered(query_text(query), outcome.enc, outcome.latency)
                    except TypeError:
                        pass
            outcomes.append(outcome)
        return outcomes

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the pool; ApiError 503 (Retry-After) past the budget."""
        future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        try:
            return await asyncio.wait_for(future, self.budget)
        except asyncio.TimeoutError:
            raise over_budget(self.budget) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
