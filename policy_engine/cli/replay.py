"""`policy-engine replay`: the decisions a service really made, answered again under a new policy."""

from __future__ import annotations

import sys

import click

from policy_engine.cli.common import EXIT_OK, EXIT_USAGE, EXIT_WIDENED, envelope, load_or_exit


@click.command("replay")
@click.option("--log", "log_path", required=True, metavar="PATH", type=click.Path(dir_okay=False),
              help="The SQLite decision log `serve --decision-log` writes (opened read-only).")
@click.option("--policy", "policy_path", required=True, metavar="NEW", type=click.Path(dir_okay=False),
              help="The policy to answer the logged questions with (e.g. the pull request's version).")
@click.option("--since", metavar="TIME", help="Only decisions from this time: 2026-11-25, 2026-11-25T10:00:00Z, "
              "or an age (15m, 2h, 7d).")
@click.option("--until", metavar="TIME", help="Only decisions before this time (same forms).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def replay_command(log_path: str, policy_path: str, since: str | None, until: str | None, fmt: str) -> None:
    """Answer every logged question again under NEW and report the answers that change.

    Counts the logged decisions that would be widened (allowed now, not then) or narrowed,
    grouped by the rules and sections that decide the new answer, with examples and the share
    of the traffic affected. Exit 1 when any logged decision widens (see the exit codes in
    docs/cli.md)."""
    from policy_engine.guard import replay_report
    from policy_engine.guard.replay import LogError, replay
    from policy_engine.server.log_query import parse_time

    try:
        start = parse_time(since) if since else None
        end = parse_time(until) if until else None
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    policy = load_or_exit(policy_path)
    try:
        result = replay(log_path, policy, policy_path, start, end)
    except LogError as err:
        click.echo(f"policy-engine replay: {err}", err=True)
        sys.exit(EXIT_USAGE)
    code = EXIT_WIDENED if result.widened else EXIT_OK
    if fmt == "json":
        fields = replay_report.to_dict(result)
        click.echo(envelope("replay", code == EXIT_OK, code, fields.pop("findings"), **fields))
    elif fmt == "markdown":
        click.echo(replay_report.render_markdown(result))
    else:
        click.echo(replay_report.render_text(result))
    sys.exit(code)
