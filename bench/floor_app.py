"""The floor of bench_server.py: the least an ASGI decision service can do per request, served by
the same uvicorn (httptools, the default event loop) as `policy-engine serve`. It reads the body,
parses the JSON and answers a dict lookup of the same answer bytes the server would send (made
once at start-up by the library), for one query or a batch. Whatever the real server costs beyond
this is its own: routing, validation, the engine, encoding, the log.

    python -m uvicorn floor_app:app --app-dir bench --no-access-log --lifespan off
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from bench_server import POLICY, queries  # noqa: E402  (the bench's own questions)

_FIELDS = ("action", "data", "source", "purpose", "recipient", "facts")


def _key(q: Any) -> tuple[Any, ...]:
    facts = q.get("facts")
    return tuple(q.get(f) for f in _FIELDS[:5]) + (None if facts is None else tuple(facts),)


def _answers() -> dict[tuple[Any, ...], bytes]:
    import policy_engine

    here = os.getcwd()
    os.chdir(REPO)
    try:
        policy = policy_engine.load(POLICY)
    finally:
        os.chdir(here)
    return {_key(q): json.dumps(policy.decide(q).to_dict(), separators=(",", ":")).encode() for q in queries(policy)}


ANSWERS = _answers()
MISSING = b'{"error":{"code":"query.unknown","message":"not a bench question"}}'
HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    if scope["method"] == "GET":  # the bench's readiness probe
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": b'{"status":"ready"}'})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    data = json.loads(body)
    get = ANSWERS.get
    if "queries" in data:
        out = b'{"answers":[' + b",".join(get(_key(q), MISSING) for q in data["queries"]) + b"]}"
    else:
        out = get(_key(data), MISSING)
    await send({"type": "http.response.start", "status": 200,
                "headers": [*HEADERS, (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})
