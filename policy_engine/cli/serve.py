"""`policy-engine serve` and `policy-engine log`, registered by cli/app.py.

serve: check the policy (diagnostics and exit 4 if it does not check), then run the ASGI app on
uvicorn; with `--workers N` a supervisor runs N processes and passes SIGHUP on to each of them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from copy import deepcopy
from typing import TYPE_CHECKING, Any

import click

from policy_engine.language import ast
from policy_engine.cli.common import EXIT_USAGE, exit_for_unloaded
from policy_engine.language.diagnostics import PolicyError, render_text
from policy_engine.server.config import (DEFAULT_BODY_TIMEOUT, DEFAULT_DECISION_THREADS, DEFAULT_HEADER_TIMEOUT,
                                         DEFAULT_HOST, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY,
                                         DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS,
                                         DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WATCH_SETTLE, ENV_VAR,
                                         ServerConfig, default_decision_log, parse_size)

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy


class _Size(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            n = parse_size(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)
        if n < 1024:
            self.fail("must be at least 1KiB", param, ctx)
        return n


def _log_config(level: str) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    cfg = deepcopy(LOGGING_CONFIG)
    cfg["loggers"]["policy_engine"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    for name in ("uvicorn", "uvicorn.error"):
        cfg["loggers"].setdefault(name, {})["level"] = level.upper()
    return cfg


@click.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes; each loads the policy and answers on the same port.")
@click.option("--decision-log", "decision_log", metavar="PATH|-",
              help="SQLite file for the decision log (WAL mode), or `-` for JSON lines on stdout. "
                   "Default: $XDG_STATE_HOME/policy-engine/decisions.sqlite3 (~/.local/state when unset).")
@click.option("--no-decision-log", is_flag=True, help="Do not log decisions.")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="Bearer tokens (one a line) required by the decision endpoints; also admin tokens unless "
                   "--admin-token-file is given.")
@click.option("--admin-token-file", type=click.Path(dir_okay=False),
              help="Bearer tokens for the admin endpoints (POST /v1/admin/reload). Without any token file "
                   "the admin endpoints refuse every request.")
@click.option("--watch", is_flag=True, help="Reload when the policy file changes.")
@click.option("--watch-interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between checks of the file with --watch.")
@click.option("--max-body", "max_body", default=DEFAULT_MAX_BODY, type=_Size(), show_default="1MiB",
              help="Largest request body (bytes, or e.g. 512KiB, 2MiB); larger ones get 413.")
@click.option("--max-batch", default=DEFAULT_MAX_BATCH, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Most queries in one batch request; more get 413.")
@click.option("--decision-log-mode", "log_mode", default="buffered", show_default=True,
              type=click.Choice(["buffered", "audit"]),
              help="buffered: answer at once, the row is committed moments later (a crash loses the rows not "
                   "yet committed). audit: answer only once the row is committed (group commit, fsync).")
@click.option("--request-timeout", default=DEFAULT_REQUEST_TIMEOUT, show_default=True,
              type=click.FloatRange(0.01, 3600),
              help="Seconds a request may wait for its decisions; past it, 503 with Retry-After.")
@click.option("--decision-threads", default=DEFAULT_DECISION_THREADS, show_default=True,
              type=click.IntRange(1, 256), help="Threads that compute decisions off the event loop.")
@click.option("--watch-settle", default=DEFAULT_WATCH_SETTLE, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds a changed policy file must stay unchanged before a reload reads it.")
@click.option("--max-connections", default=DEFAULT_MAX_CONNECTIONS, show_default=True,
              type=click.IntRange(1, 1_000_000), help="Open connections at most; beyond it, 503 and close.")
@click.option("--keep-alive-timeout", default=DEFAULT_KEEP_ALIVE, show_default=True,
              type=click.FloatRange(0.1, 3600), help="Seconds an idle connection is kept open.")
@click.option("--header-timeout", default=DEFAULT_HEADER_TIMEOUT, show_default=True,
              type=click.FloatRange(0.1, 3600), help="Seconds a client has to send a request's headers.")
@click.option("--body-timeout", default=DEFAULT_BODY_TIMEOUT, show_default=True,
              type=click.FloatRange(0.1, 3600), help="Seconds a client has to send a request's body.")
@click.option("--max-header-size", "max_header_bytes", default=DEFAULT_MAX_HEADER_BYTES, type=_Size(),
              show_default="16KiB", help="Largest request line and headers together; larger gets 431.")
@click.option("--max-headers", default=DEFAULT_MAX_HEADERS, show_default=True, type=click.IntRange(1, 10_000),
              help="Most header lines in a request; more gets 431.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
def serve(policy: str, host: str, port: int, workers: int, decision_log: str | None, no_decision_log: bool,
          token_file: str | None, admin_token_file: str | None, watch: bool, watch_interval: float,
          max_body: int, max_batch: int, log_mode: str, request_timeout: float, decision_threads: int,
          watch_settle: float, max_connections: int, keep_alive_timeout: float, header_timeout: float,
          body_timeout: float, max_header_bytes: int, max_headers: int, log_level: str, access_log: bool) -> None:
    """Serve the decision API for POLICY (default http://127.0.0.1:8181; docs at /docs, the playground at
    /playground)."""
    import uvicorn

    from policy_engine.server.auth import read_token_file

    if no_decision_log and decision_log:
        raise click.UsageError("--decision-log and --no-decision-log contradict each other")
    log_target = None if no_decision_log else (decision_log or default_decision_log())
    if log_target not in (None, "-") and os.path.isdir(log_target):
        raise click.UsageError(f"--decision-log {log_target} is a folder; name a file")
    for path in (token_file, admin_token_file):
        if path:
            try:
                read_token_file(path)
            except ValueError as err:
                raise click.UsageError(str(err)) from None
    if log_target == "-" and access_log:
        raise click.UsageError("--access-log would mix with the decision log on stdout; drop one")

    loaded = _load_or_exit(policy)
    config = ServerConfig(policy_path=policy, decision_log=log_target, token_file=token_file,
                          admin_token_file=admin_token_file, watch=watch, watch_interval=watch_interval,
                          max_body_bytes=max_body, max_batch=max_batch, workers=workers, log_mode=log_mode,
                          request_timeout=request_timeout, decision_threads=decision_threads,
                          watch_settle=watch_settle, max_connections=max_connections,
                          keep_alive_timeout=keep_alive_timeout, header_timeout=header_timeout,
                          body_timeout=body_timeout, max_header_bytes=max_header_bytes, max_headers=max_headers)
    from policy_engine.server import protocol

    protocol.configure(config)
    common: dict[str, Any] = dict(host=host, port=port, log_config=_log_config(log_level), log_level=log_level,
                                  access_log=access_log, lifespan="on", server_header=False,
                                  timeout_graceful_shutdown=30, http=protocol.GuardedHttpToolsProtocol,
                                  timeout_keep_alive=keep_alive_timeout)
    if workers == 1:
        from policy_engine.playground.serving import with_playground
        from policy_engine.server.app import create_app

        app = with_playground(create_app(config, loaded))
        uvicorn.Server(uvicorn.Config(app, **common)).run()
        return
    _serve_workers(config, common, workers)


def _load_or_exit(path: str) -> Policy:
    from policy_engine.engine.loader import load_path

    try:
        return load_path(path)
    except PolicyError as err:
        click.echo(render_text(err.diagnostics), err=True)
        n = len(err.diagnostics)
        click.echo(f"\n{path}: {n} error{'s' * (n != 1)}; not serving", err=True)
        sys.exit(exit_for_unloaded(err.diagnostics))


def _serve_workers(config: ServerConfig, common: dict[str, Any], workers: int) -> None:
    import signal

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:  # reload in place in every worker, rather than restarting them
            logging.getLogger("policy_engine.server").info("SIGHUP: asking %d workers to reload",
                                                           len(self.processes))
            for proc in self.processes:
                if proc.pid is not None:
                    try:
                        os.kill(proc.pid, signal.SIGHUP)
                    except ProcessLookupError:
                        pass

    metrics_dir = tempfile.mkdtemp(prefix="policy-engine-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[ENV_VAR] = config.to_env()
    try:
        cfg = uvicorn.Config("policy_engine.playground.serving:app_from_env", factory=True, workers=workers, **common)
        sock = cfg.bind_socket()
        Supervisor(cfg, sockets=[sock]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@click.command("log")
@click.option("--db", "db", default=None, metavar="PATH", help="The decision log. Default: the one `serve` writes by default.")
@click.option("--since", metavar="TIME", help="From this time: 2026-11-25, 2026-11-25T10:00:00Z, or an age (15m, 2h, 7d).")
@click.option("--until", metavar="TIME", help="Before this time (same forms).")
@click.option("--decision", type=click.Choice(["allow", "deny", "conditional"]))
@click.option("--action", type=click.Choice(ast.ACTIONS))
@click.option("--data", metavar="TERM", help="Data term (its descendants match too).")
@click.option("--purpose", metavar="TERM", help="Purpose term (its descendants match too).")
@click.option("--source", metavar="TERM", help="Source term (its descendants match too).")
@click.option("--recipient", metavar="TERM", help="Recipient term (its descendants match too).")
@click.option("--digest", metavar="DIGEST", help="Policy digest, or a prefix of it.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(0), help="The newest N matches; 0 for all.")
@click.option("--count", "count_only", is_flag=True, help="Print only how many rows match.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object per line.")
def log_command(db: str | None, since: str | None, until: str | None, decision: str | None, action: str | None,
                data: str | None, purpose: str | None, source: str | None, recipient: str | None,
                digest: str | None, limit: int, count_only: bool, fmt: str) -> None:
    """Query the decision log written by `serve`."""
    import sqlite3

    from policy_engine.server.log_query import LogFilter, count_log, parse_time, query_log, render_row

    path = db or default_decision_log()
    try:
        flt = LogFilter(since=parse_time(since) if since else None, until=parse_time(until) if until else None,
                        decision=decision, action=action, data=data, purpose=purpose, source=source,
                        recipient=recipient, digest=digest, limit=limit)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    try:
        if count_only:
            click.echo(count_log(path, flt))
            return
        for row in query_log(path, flt):
            click.echo(json.dumps(row, separators=(",", ":")) if fmt == "json" else render_row(row))
    except FileNotFoundError:
        click.echo(f"policy-engine log: no decision log at {path} (start `policy-engine serve` first, or "
                   "pass --db PATH)", err=True)
        sys.exit(EXIT_USAGE)
    except sqlite3.DatabaseError as err:
        click.echo(f"policy-engine log: cannot read {path}: {err}", err=True)
        sys.exit(EXIT_USAGE)



