"""The command line: `policy-engine check|...`. Imports the façade (api) only.

Exit codes: 0 success, 1 the policy or question has a problem, 2 usage error.
No input produces a traceback: a fault in the tool itself is reported in one line (exit 3).
"""

from __future__ import annotations

import json
import sys

import click

from . import __version__, api
from .diagnostics import Severity, render_text


class _Group(click.Group):
    def main(self, *args, **kwargs):  # type: ignore[override]
        try:
            return super().main(*args, **kwargs)
        except (KeyboardInterrupt, BrokenPipeError):
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy-engine")
def cli() -> None:
    """Privacy policy as code: check policies and answer questions about personal data."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check policy files (or every *.policy file in the given folders)."""
    try:
        files = api.policy_files(list(paths))
    except FileNotFoundError as err:
        raise click.UsageError(f"no such file or folder: {err}") from None
    if not files:
        raise click.UsageError("no .policy files found in " + ", ".join(paths))
    results = [api.check_file(f) for f in files]
    diags = [d for r in results for d in r.diagnostics]
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = len(diags) - errors
    failed = errors > 0 or (strict and warnings > 0)
    if fmt == "json":
        click.echo(json.dumps({
            "files": [r.path for r in results],
            "diagnostics": [d.to_dict() for d in diags],
            "errors": errors,
            "warnings": warnings,
            "ok": not failed,
        }, indent=2))
    else:
        if diags:
            click.echo(render_text(diags))
            click.echo()
        noun = "file" if len(results) == 1 else "files"
        if not diags:
            click.echo(f"{len(results)} {noun} checked: no problems found")
        else:
            click.echo(f"{len(results)} {noun} checked: {errors} error{'s' * (errors != 1)}, "
                       f"{warnings} warning{'s' * (warnings != 1)}")
    sys.exit(1 if failed else 0)


def main() -> None:
    try:
        cli()
    except SystemExit:
        raise
    except Exception as err:  # the safety net: a bug in the tool, never a traceback for the user
        click.echo(f"policy-engine: internal error: {type(err).__name__}: {err} "
                   "(please report this with the command you ran)", err=True)
        sys.exit(3)
