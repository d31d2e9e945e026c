"""What every command shares: loading a policy or exiting with its diagnostics, the query
flags, the files a command works on, and the exit codes.

Exit codes, the same in every command: 0 success, 1 the policy or question has a problem,
2 usage error, 3 a fault in the tool itself (reported in one line, never a traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from policy_engine import api
from policy_engine.language import ast
from policy_engine.language.diagnostics import render_text

def load_or_exit(path: str) -> api.Policy:
    """Load or exit 1 with the policy's diagnostics on stderr."""
    try:
        return api.load(path)
    except api.QueryError:
        raise
    except api.PolicyError as err:
        click.echo(render_text(err.diagnostics), err=True)
        sys.exit(1)


def query_error(err: api.QueryError, where: str = "") -> None:
    click.echo(f"policy-engine: {where}{err.one_line()}", err=True)


QUERY_FLAGS = [
    click.option("--query", "query_json", metavar="JSON", help="The query as a JSON object (SPEC section 2)."),
    click.option("--action", type=click.Choice(ast.ACTIONS), help="What is done."),
    click.option("--data", help="The data category, e.g. email."),
    click.option("--source", help="Where the data was collected, e.g. forum."),
    click.option("--purpose", help="What it is used (or kept) for, e.g. marketing."),
    click.option("--recipient", help="Who receives it, e.g. business_partner."),
    click.option("--fact", "facts", multiple=True, metavar="FACT",
                 help="A fact that holds (repeatable); giving any makes the world closed."),
    click.option("--no-facts", is_flag=True, help="Closed world with no fact holding (`given nothing`)."),
]


def query_flags(func):  # type: ignore[no-untyped-def]
    for option in reversed(QUERY_FLAGS):
        func = option(func)
    return func


def query_from_options(query_json: str | None, action: str | None, data: str | None, source: str | None,
                        purpose: str | None, recipient: str | None, facts: tuple[str, ...],
                        no_facts: bool) -> object:
    flags = any(v is not None for v in (action, data, source, purpose, recipient)) or facts or no_facts
    if query_json is not None:
        if flags:
            raise click.UsageError("give the query either as --query JSON or with --action/--data/... flags")
        return api.parse_json(query_json)
    if not flags:
        raise click.UsageError("no query: give --query JSON, --batch FILE, or --action and --data flags")
    query: dict[str, object] = {"action": action, "data": data}
    for name, value in (("source", source), ("purpose", purpose), ("recipient", recipient)):
        if value is not None:
            query[name] = value
    if facts or no_facts:
        query["facts"] = list(facts)
    return query


def policy_paths(paths: tuple[str, ...]) -> list[Path]:
    """The given files and folders (folders: every *.policy below), default `policies/` of the repo."""
    from policy_engine.guard.workspace import default_paths

    try:
        roots: list[str | Path] = list(paths) if paths else list(default_paths())
        files = api.policy_files(roots)
    except FileNotFoundError as err:
        if not paths:
            raise click.UsageError(f"no policies/ folder in this repository ({err}); name the policy files") \
                from None
        raise click.UsageError(f"no such file or folder: {err}") from None
    if not files:
        raise click.UsageError("no .policy files found in " + ", ".join(str(p) for p in (paths or roots)))
    return files
