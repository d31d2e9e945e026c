"""`policy-engine serve` and `policy-engine log`, registered by cli/app.py.

serve: resolve the options (flag > POLICY_ENGINE_* environment > --config file > default; the
options are defined once in server/settings.py), check what can be checked before binding (token
files, the TLS pair), check the policy (diagnostics and exit 4 if it does not check), then run the
ASGI app on uvicorn; with `--workers N` a supervisor runs N processes, each with a listening
socket of its own (cli/serve_workers.py), and passes SIGHUP on to each of them. SIGTERM drains
the requests in flight for up to --shutdown-timeout seconds, then the lifespan shutdown flushes
the decision log.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Any

import click

from policy_engine.language import ast
from policy_engine.cli.common import EXIT_USAGE, exit_for_unloaded
from policy_engine.language.diagnostics import PolicyError, render_text
from policy_engine.cli.serve_options import resolve, serve_options, warn_misspelt_environment, where_from
from policy_engine.server.config import ENV_VAR, ServerConfig, default_decision_log
from policy_engine.server.settings import ServeSettings, render_effective

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy


@click.command()
@serve_options
@click.pass_context
def serve(ctx: click.Context, print_config: bool, **params: Any) -> None:
    """Serve the decision API for POLICY (default http://127.0.0.1:8181; docs at /docs, the playground at
    /playground).

    Every option can also be set by its POLICY_ENGINE_* environment variable or in a TOML file given
    with --config (keys as the flags without the dashes); a flag wins over the environment, which wins
    over the file. docs/operations.md lists them all.
    """
    warn_misspelt_environment(dict(os.environ))
    settings, sources = resolve(ctx, params)
    if print_config:
        click.echo(render_effective(settings.model_dump(), sources), nl=False)
        return
    if settings.policy is None:
        raise click.UsageError("no policy to serve: name it (`policy-engine serve FILE`), or set POLICY_ENGINE_POLICY, "
                               'or `policy = "FILE"` in the --config file', ctx)
    _check(ctx, settings, sources)
    import uvicorn

    from policy_engine.server import protocol
    from policy_engine.server.logs import log_config

    s = settings
    loaded = _load_or_exit(s.policy)
    log_target = None if s.no_decision_log else (s.decision_log or default_decision_log())
    config = ServerConfig(policy_path=s.policy, decision_log=log_target, token_file=s.token_file,
                          admin_token_file=s.admin_token_file, watch=s.watch, watch_interval=s.watch_interval,
                          max_body_bytes=s.max_body, max_batch=s.max_batch, workers=s.workers,
                          log_mode=s.decision_log_mode, request_timeout=s.request_timeout,
                          decision_threads=s.decision_threads, watch_settle=s.watch_settle,
                          max_connections=s.max_connections, keep_alive_timeout=s.keep_alive_timeout,
                          header_timeout=s.header_timeout, body_timeout=s.body_timeout,
                          max_header_bytes=s.max_header_size, max_headers=s.max_headers,
                          log_format=s.log_format, access_log=s.access_log)
    protocol.configure(config)
    _subject_env(s)
    common: dict[str, Any] = dict(host=s.host, port=s.port, log_config=log_config(s.log_level, s.log_format),
                                  log_level=s.log_level, access_log=s.access_log and s.log_format == "text",
                                  lifespan="on", server_header=False, timeout_graceful_shutdown=s.shutdown_timeout,
                                  http=protocol.GuardedHttpToolsProtocol, timeout_keep_alive=s.keep_alive_timeout,
                                  ssl_certfile=s.ssl_certfile, ssl_keyfile=s.ssl_keyfile,
                                  ssl_keyfile_password=s.ssl_keyfile_password)
    if s.workers == 1:
        from policy_engine.cli.serve_app import build

        uvicorn.Server(uvicorn.Config(build(config, loaded), **common)).run()
        return
    _serve_workers(config, common, s.workers)


def _subject_env(s: ServeSettings) -> None:
    """The subject endpoints read their settings from the environment (subjects/http.py), in this
    process and in every worker: put the resolved ones there (a flag or the file may have set them)."""
    from policy_engine.subjects.http import STORE_ENV, TOKENS_ENV

    for name, value in ((STORE_ENV, s.subject_store), (TOKENS_ENV, s.subject_tokens)):
        if value is not None:
            os.environ[name] = value


def _check(ctx: click.Context, s: ServeSettings, sources: dict[str, str]) -> None:
    """What can be known wrong before the policy is loaded and the port bound: exit 2 with the
    option, where its value came from, and the fix."""
    from policy_engine.server.auth import read_token_file
    from policy_engine.server.tls import TLSError, check

    log_target = None if s.no_decision_log else (s.decision_log or default_decision_log())
    if log_target not in (None, "-") and os.path.isdir(log_target):
        raise click.UsageError(f"{where_from(sources, 'decision_log')}: {log_target} is a folder; name a file", ctx)
    for name in ("token_file", "admin_token_file"):
        path = getattr(s, name)
        if path:
            try:
                read_token_file(path)
            except ValueError as err:
                raise click.UsageError(f"{where_from(sources, name)}: {err}", ctx) from None
    if s.subject_tokens:
        from policy_engine.subjects.auth import read_scoped_tokens

        try:
            read_scoped_tokens(s.subject_tokens)
        except ValueError as err:
            raise click.UsageError(f"{where_from(sources, 'subject_tokens')}: {err}", ctx) from None
    if log_target == "-" and s.access_log:
        raise click.UsageError("--access-log would mix with the decision log on stdout; drop one", ctx)
    if s.ssl_certfile:
        try:
            check(s.ssl_certfile, s.ssl_keyfile, s.ssl_keyfile_password)
        except TLSError as err:
            raise click.UsageError(f"{err} (--ssl-certfile from {sources['ssl_certfile']})", ctx) from None


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
    import uvicorn

    from policy_engine.cli import serve_workers

    metrics_dir = tempfile.mkdtemp(prefix="policy-engine-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[ENV_VAR] = config.to_env()
    try:
        serve_workers.run(uvicorn.Config("policy_engine.cli.serve_app:app_from_env", factory=True, workers=workers,
                                         **common))
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _log_by_id(path: str, decision_id: str, fmt: str) -> None:
    import sqlite3

    from policy_engine.server.log_query import find_decision, render_row

    try:
        row = find_decision(path, decision_id)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    except (FileNotFoundError, sqlite3.DatabaseError) as err:
        click.echo(f"policy-engine log: cannot read {path}: {err}", err=True)
        sys.exit(EXIT_USAGE)
    if row is None:
        click.echo(f"policy-engine log: no decision {decision_id} in {path}", err=True)
        sys.exit(1)
    click.echo(json.dumps(row, separators=(",", ":")) if fmt == "json" else render_row(row))


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
@click.option("--id", "decision_id", metavar="DECISION_ID", help="The one row of this `decision_id` (other filters ignored).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object per line.")
def log_command(db: str | None, since: str | None, until: str | None, decision: str | None, action: str | None,
                data: str | None, purpose: str | None, source: str | None, recipient: str | None,
                digest: str | None, limit: int, count_only: bool, fmt: str, decision_id: str | None = None) -> None:
    """Query the decision log written by `serve`."""
    import sqlite3

    from policy_engine.server.log_query import LogFilter, count_log, parse_time, query_log, render_row

    path = db or default_decision_log()
    if decision_id is not None:
        _log_by_id(path, decision_id, fmt)
        return
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



