"""Decision -> what the server sends and logs: the answer's JSON bytes and the log's columns.
Memoised per Decision object: the engine hands back the same immutable Decision for a repeated
question, so the common case costs one dict lookup instead of a pydantic serialisation.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any


# eq=False: equal and hashed by identity, so the decision log can map each one to its id in the file
# with a dict lookup that hashes nothing (decision_log.py); a Decision is not hashable anyway.
@dataclass(frozen=True, slots=True, eq=False)
class Encoded:
    decision: Any  # the Decision itself (kept alive, so its id() cannot be reused while memoised)
    body: bytes  # the documented answer, JSON
    label: str  # "allow" | "deny" | "conditional"
    requires: str | None
    would_allow_if: str | None
    rules: str  # the reasons, JSON
    digest: str
    key: str  # a hash of `body`: the decision log stores each distinct answer once, rows point to it


class Remembered:
    """An answer the server's memo keeps (deciding.Decider): the one object every hit of its question
    gets, so a hit makes no object. Equal and hashed by identity (a slots class), so the decision log
    maps it to its (query, answer) pair in the file with a dict lookup that hashes nothing
    (decision_log.py). `latency` is the time its first asking took; a hit's own is the lookup's,
    which `Decider.hits` returns beside."""

    __slots__ = ("enc", "latency", "query")

    def __init__(self, query: str, enc: Encoded, latency: float):
        self.query = query  # the query's log text
        self.enc = enc
        self.latency = latency


class Encoder:
    def __init__(self, limit: int = 20_000):
        self._memo: dict[int, Encoded] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def __call__(self, decision: Any) -> Encoded:
        hit = self._memo.get(id(decision))
        if hit is not None and hit.decision is decision:
            return hit
        answer = decision.model_dump(mode="json", exclude_none=True)
        body = json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        enc = Encoded(decision, body, answer["decision"], answer.get("requires"), answer.get("would_allow_if"),
                      json.dumps(answer.get("reasons", []), separators=(",", ":"), ensure_ascii=False),
                      answer["policy"]["digest"], hashlib.blake2b(body, digest_size=16).hexdigest())
        with self._lock:
            if len(self._memo) >= self._limit:
                self._memo.clear()
            self._memo[id(decision)] = enc
        return enc
