"""The server's logs: the logging config uvicorn is given (`log_config`), and, with
`--log-format json`, one JSON object per line for every logger and an access log of the app's own.

uvicorn's access line has neither the request id nor the duration, so in JSON mode its access
log is off and `AccessLog` (outermost ASGI middleware) writes one line per request to the
`policy_engine.access` logger: time, level, logger, message, request_id, method, path, status,
duration_ms. Issue 11's rule holds in both formats: a line never holds a query's content, a
fact, an evidence string or a subject id. The path is the route's template
(`/v1/subjects/{subject_id}`), never the path as sent, and never the query string.

The formatter is named by dotted path in the dictConfig, so each `--workers N` process, which
configures logging from the same dict, writes the same lines.
"""

from __future__ import annotations

import json
import logging
import re
import time
from copy import deepcopy
from datetime import datetime, timezone
from typing import Any

ACCESS_LOGGER = "policy_engine.access"
_FIELDS = ("request_id", "method", "path", "status", "duration_ms")
_SUBJECT_PATH = re.compile(r"(/v1/subjects/)[^/]+")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, message, and the access fields
    when the record carries them; an exception as one string field."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        out: dict[str, Any] = {"time": when.replace("+00:00", "Z"), "level": record.levelname.lower(),
                               "logger": record.name, "message": record.getMessage()}
        for name in _FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """uvicorn's own config with our level (and our loggers), or every handler writing JSON."""
    from uvicorn.config import LOGGING_CONFIG

    cfg = deepcopy(LOGGING_CONFIG)
    lvl = level.upper()
    cfg["loggers"]["policy_engine"] = {"handlers": ["default"], "level": lvl, "propagate": False}
    for name in ("uvicorn", "uvicorn.error"):
        cfg["loggers"].setdefault(name, {})["level"] = lvl
    if fmt == "json":
        cfg["formatters"] = {"json": {"()": f"{__name__}.JsonFormatter"}}
        for handler in cfg["handlers"].values():
            handler["formatter"] = "json"
        cfg["loggers"][ACCESS_LOGGER] = {"handlers": ["access"], "level": "INFO", "propagate": False}
    return cfg


def _route_path(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    return _SUBJECT_PATH.sub(r"\1{id}", scope.get("path", ""))


class AccessLog:
    """Pure ASGI: one INFO line per HTTP request once its response has started (or failed)."""

    def __init__(self, app: Any):
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        request_id = None

        async def send_logged(message: dict[str, Any]) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        request_id = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            method, path = scope.get("method", ""), _route_path(scope)
            ms = round((time.perf_counter() - start) * 1000, 3)
            self.log.info("%s %s %d %.1fms", method, path, status, ms,
                          extra={"request_id": request_id, "method": method, "path": path, "status": status,
                                 "duration_ms": ms})


def install_access_log(app: Any, log_format: str, access_log: bool) -> Any:
    """Add AccessLog outermost when the JSON access log is asked for; returns `app`."""
    if access_log and log_format == "json":
        app.add_middleware(AccessLog)
    return app
