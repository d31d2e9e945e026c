"""Request limits: body size (413), JSON nesting depth (400, checked before parsing, so a
deeply nested body is refused, never recursed into), and JSON syntax (400 `query.invalid_json`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request

from policy_engine.server.errors import ApiError

# A JSON string literal; what is left after removing them holds only structure and scalars.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[^\[\]{}]+")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, "request.bad_content_length", "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "request.disconnected", "the client went away before sending the whole body") from None
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "request.too_large", f"the request body is over the limit of {limit} bytes",
                    extra={"limit": limit})


def too_deep(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest more than `limit` deep (brackets inside strings do not
    count). A loop over the brackets, never a recursion; stops at the first level past the limit."""
    if text.count("[") + text.count("{") <= limit:  # the common case: cannot be deeper than this
        return False
    structure = _BRACKETS.sub("", _STRING.sub("", text))
    depth = 0
    for ch in structure:
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes, max_depth: int) -> Any:
    """Bytes -> a JSON value, or ApiError 400 naming the problem (never a recursion)."""
    if not body.strip():
        raise ApiError(400, "query.invalid_json", "the request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ApiError(400, "query.invalid_json", f"the request body is not UTF-8 (byte {err.start})") from None
    if too_deep(text, max_depth):
        raise ApiError(400, "request.too_deep", f"the JSON is nested more than {max_depth} levels deep",
                       extra={"limit": max_depth})
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ApiError(400, "query.invalid_json",
                       f"the request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except (ValueError, RecursionError) as err:  # NaN/Infinity, integers too long to convert
        raise ApiError(400, "query.invalid_json", f"the request body is not valid JSON: {err}") from None
