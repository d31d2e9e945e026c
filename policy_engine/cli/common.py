"""What every command shares: loading a policy or exiting with its diagnostics, the query
flags, the files a command works on, the exit codes and the JSON envelope.

Exit codes, the same in every command (EXIT_* below; the table is in docs/cli.md): 0 success,
1 widened, 2 usage, 3 internal error, 4 a policy does not check, 5 the policy fails a test,
lint or format check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from policy_engine import api
from policy_engine.language import ast
from policy_engine.language.diagnostics import render_text


def load_or_exit(path: str) -> api.Policy:
    """Load, or exit with the policy's diagnostics on stderr (exit_for_unloaded)."""
    try:
        return api.load(path)
    except api.QueryError:
        raise
    except api.PolicyError as err:
        click.echo(render_text(err.diagnostics), err=True)
        sys.exit(exit_for_unloaded(err.diagnostics))


def exit_for_unloaded(diagnostics: list[Any]) -> int:
    """EXIT_USAGE when the named file is not there (or is a folder, or cannot be opened), as a
    missing path is in every command; EXIT_INVALID when the file says something wrong."""
    missing = bool(diagnostics) and all(d.code in ("source.not_found", "source.unreadable") for d in diagnostics)
    return EXIT_USAGE if missing else EXIT_INVALID


def query_error(err: api.QueryError, where: str = "") -> None:
    click.echo(f"policy-engine: {where}{err.one_line()}", err=True)


QUERY_FLAGS = [
    click.option("--query", "query_json", metavar="JSON", help="The query as a JSON object (docs/semantics.md)."),
    click.option("--action", metavar="ACTION", help="What is done: " + ", ".join(ast.ACTIONS)
                 + ", or a sub-action the policy declares (share.sell)."),
    click.option("--data", help="The data category, e.g. email."),
    click.option("--source", help="Where the data was collected, e.g. forum."),
    click.option("--purpose", help="What it is used (or kept) for, e.g. marketing."),
    click.option("--recipient", help="Who receives it, e.g. business_partner."),
    click.option("--destination", metavar="REGION", help="Where a transfer sends it, e.g. region.us."),
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
                        no_facts: bool, destination: str | None = None) -> object:
    flags = any(v is not None for v in (action, data, source, purpose, recipient, destination)) or facts or no_facts
    if query_json is not None:
        if flags:
            raise click.UsageError("give the query either as --query JSON or with --action/--data/... flags")
        return api.parse_json(query_json)
    if not flags:
        raise click.UsageError("no query: give --query JSON, --batch FILE, or --action and --data flags")
    query: dict[str, object] = {"action": action, "data": data}
    for name, value in (("source", source), ("purpose", purpose), ("recipient", recipient),
                        ("destination", destination)):
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


# ---- exit codes and the JSON envelope ---------------------------------------------------------
# The same in every command (documented as a table in docs/cli.md). CI relies on the order: 1 is
# the one outcome a reviewer may accept (a widening, approved by label); 2 and above always fail.

EXIT_OK = 0  # success: nothing widened, every policy checks, every test passes
EXIT_WIDENED = 1  # diff, replay: something is allowed now that was not before
EXIT_USAGE = 2  # a bad command line, a missing file, a malformed query or unknown term (docs/semantics.md)
EXIT_INTERNAL = 3  # a fault in the tool itself: one line on stderr, never a traceback
EXIT_INVALID = 4  # a policy does not check (parse or check errors): nothing else can be said about it
EXIT_FAILED = 5  # the policy checks but fails what was asked: an expectation or invariant, a lint
#                  error (or a warning with --strict), a file fmt --check would reformat

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_WIDENED: "widened: something is allowed now that was not before (diff, replay)",
    EXIT_USAGE: "usage: a bad option, a missing file, a malformed query or an unknown term",
    EXIT_INTERNAL: "internal error: a fault in policy-engine itself (please report it)",
    EXIT_INVALID: "a policy does not check: parse or check errors, shown with file:line:column",
    EXIT_FAILED: "the policy checks but fails: a test, a lint error (or warning with --strict), fmt --check",
}

ENVELOPE_VERSION = 1  # of docs/schemas/envelope.schema.json; raised only when a field changes meaning


def envelope(command: str, ok: bool, exit_code: int, findings: list[Any], **fields: Any) -> str:
    """The one JSON shape of check, lint, test, diff and replay: `version` (of the envelope
    schema), `tool`, `command`, `ok`, `exit_code`, `findings` (what the command found), then the
    command's own fields. Scripts read `ok` and `findings` the same way for every command."""
    from policy_engine import __version__

    body = {"version": ENVELOPE_VERSION, "tool": {"name": "policy-engine", "version": __version__},
            "command": command, "ok": ok, "exit_code": exit_code, "findings": findings, **fields}
    return json.dumps(body, indent=2, ensure_ascii=False)
