"""Prometheus metrics: requests and latency by endpoint, status and decision; the decision log's
flushed/dropped counts; reloads. One registry per app. With `--workers N` the values live in
PROMETHEUS_MULTIPROC_DIR (set by `serve`) and /metrics sums the workers.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics

disable_created_metrics()  # the *_created series only add noise here

# Paths that get their own label; anything else is "other" (so a fuzzer cannot blow up the label set).
ENDPOINTS = ("/v1/decide", "/v1/decide/batch", "/v1/explain", "/v1/policy", "/v1/terms", "/v1/map", "/v1/admin/reload",
             "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


MULTIPROCESS_FLUSH_S = 0.05  # with --workers N: how long a request's observation may wait to be shared


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("policy_engine_requests", "HTTP requests by endpoint and status.",
                                ("endpoint", "method", "status"), registry=r)
        self.latency = Histogram("policy_engine_request_duration_seconds",
                                 "Request latency by endpoint and decision (`batch` for a batch, `error` for "
                                 "a refused query, `none` for other endpoints).",
                                 ("endpoint", "decision"), buckets=_LATENCY_BUCKETS, registry=r)
        self.decisions = Counter("policy_engine_decisions", "Decisions answered, by endpoint and decision.",
                                 ("endpoint", "decision"), registry=r)
        self.query_errors = Counter("policy_engine_query_errors", "Queries refused, by endpoint and error code.",
                                    ("endpoint", "code"), registry=r)
        self.log_flushed = Counter("policy_engine_decision_log_flushed_rows",
                                   "Decision log rows committed (a row counted here survives a crash).",
                                   registry=r)
        self.log_dropped = Counter("policy_engine_decision_log_dropped_rows",
                                   "Decision log rows lost (queue full, write error).", registry=r)
        self.reloads = Counter("policy_engine_reloads", "Policy reloads by trigger and result.",
                               ("trigger", "result"), registry=r)
        mode: dict[str, Any] = {"multiprocess_mode": "liveall"} if self.multiprocess else {}
        self.policy_info = Gauge("policy_engine_policy_info", "The policy being served (value 1).",
                                 ("name", "digest"), registry=r, **mode)
        self._policy_labels: tuple[str, str] | None = None
        self._bound: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}
        self._decisions: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()  # the loop adds up, /metrics (or a thread) may flush
        self._pending: dict[tuple[str, str, int, str], list[Any]] = {}  # [count, sum, one count per bucket]
        self._pending_decisions: dict[tuple[str, str], int] = {}
        self._flush_scheduled = False

    def set_policy(self, name: str, digest: str) -> None:
        if self._policy_labels is not None and self._policy_labels != (name, digest):
            if self.multiprocess:  # label removal is not supported there: the old version reads 0
                self.policy_info.labels(*self._policy_labels).set(0)
            else:
                try:
                    self.policy_info.remove(*self._policy_labels)
                except KeyError:
                    pass
        self.policy_info.labels(name, digest).set(1)
        self._policy_labels = (name, digest)

    # What a request observes is added up here, in plain Python, and folded into the prometheus
    # children (`flush`) when /metrics is read; with --workers N (the values live in shared files
    # other workers read) also at most MULTIPROCESS_FLUSH_S after it was observed, and at shutdown.
    # Why: a prometheus observation takes a lock and walks the buckets, and `labels()` checks and
    # joins its values: measured, the three a decision paid cost more than answering it from the
    # memo. And why not once per event-loop turn with workers: each shared value written is a lock
    # and an mmap write, and a worker that is not saturated turns its loop for every few requests;
    # measured, that was about a tenth of a worker's CPU at two workers. The exported metrics are
    # the same; another worker's latest requests show up to MULTIPROCESS_FLUSH_S late.
    def observe_request(self, path: str, method: str, status: int, decision: str, seconds: float) -> None:
        key = (path, method, status, decision)
        with self._lock:
            acc = self._pending.get(key)
            if acc is None:
                acc = self._pending[key] = [0, 0.0] + [0] * (len(_LATENCY_BUCKETS) + 1)
            acc[0] += 1
            acc[1] += seconds
            acc[2 + bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        if self.multiprocess:
            self._flush_soon()

    def count_decisions(self, endpoint: str, label: str, n: int = 1) -> None:
        key = (endpoint, label)
        with self._lock:
            self._pending_decisions[key] = self._pending_decisions.get(key, 0) + n
        if self.multiprocess:
            self._flush_soon()

    def decision_counter(self, endpoint: str, label: str) -> Any:
        child = self._decisions.get((endpoint, label))
        if child is None:
            child = self._decisions[(endpoint, label)] = self.decisions.labels(endpoint, label)
        return child

    def _flush_soon(self) -> None:
        if self._flush_scheduled:
            return
        try:
            asyncio.get_running_loop().call_later(MULTIPROCESS_FLUSH_S, self.flush)
        except RuntimeError:  # no loop in this thread: now
            self.flush()
            return
        self._flush_scheduled = True

    def flush(self) -> None:
        """Fold what was added up into the prometheus children."""
        with self._lock:
            pending, self._pending = self._pending, {}
            decisions, self._pending_decisions = self._pending_decisions, {}
            self._flush_scheduled = False
        for (path, method, status, decision), acc in pending.items():
            requests, latency = self._children(path, method, status, decision)
            requests.inc(acc[0])
            latency._sum.inc(acc[1])  # prometheus_client's Histogram has no bulk observe
            for i, n in enumerate(acc[2:]):
                if n:
                    latency._buckets[i].inc(n)
        for (endpoint, label), n in decisions.items():
            self.decision_counter(endpoint, label).inc(n)

    def _children(self, path: str, method: str, status: int, decision: str) -> tuple[Any, Any]:
        key = (path, method, status, decision)
        bound = self._bound.get(key)
        if bound is None:
            endpoint = path if path in ENDPOINTS else "other"
            bound = (self.requests.labels(endpoint, method if method in _METHODS else "OTHER", str(status)),
                     self.latency.labels(endpoint, decision))
            if len(self._bound) < 4096:  # `other` paths are many: past this, look them up each time
                self._bound[key] = bound
        return bound

    def exposition(self) -> tuple[bytes, str]:
        self.flush()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class MetricsMiddleware:
    """Pure ASGI: times every HTTP request; handlers name the decision in `request.state.decision`."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state") or {}
            decision = state.get("decision", "none") if isinstance(state, dict) else "none"
            self.metrics.observe_request(scope.get("path", ""), scope.get("method", ""), status, decision,
                                         time.perf_counter() - start)
