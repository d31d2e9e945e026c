"""`policy-engine fmt`: the one canonical layout, comments kept."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from policy_engine import api
from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, policy_paths
from policy_engine.language.diagnostics import PolicyError, render_text


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 5 if a file is not formatted.")
@click.option("--diff", "show_diff", is_flag=True, help="Show what would change, as a unified diff; change nothing.")
def fmt_command(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Format policy files in the one canonical layout, keeping every comment.

    `-` formats stdin to stdout. With --check nothing is written and the exit code is 5 when a
    file would change. A file that does not parse is left alone and reported (exit 4)."""
    from policy_engine.language.formatter import format_source

    if paths == ("-",):
        try:  # bytes, decoded as a file is: invalid UTF-8 is an error, never echoed back
            source = api.decode(sys.stdin.buffer.read(), "<stdin>")
        except PolicyError as err:
            click.echo(render_text(err.diagnostics), err=True)
            sys.exit(EXIT_INVALID)
        result = format_source(source)
        if not result.ok:
            click.echo(render_text(result.diagnostics), err=True)
            sys.exit(EXIT_INVALID)
        assert result.text is not None
        if check_only:
            sys.exit(EXIT_FAILED if result.changed else EXIT_OK)
        click.echo(result.text, nl=False)
        sys.exit(EXIT_OK)
    files = policy_paths(paths)
    changed, broken = [], 0
    for f in files:
        try:
            source = api.read_source(f)
        except PolicyError as err:
            click.echo(render_text(err.diagnostics), err=True)
            broken += 1
            continue
        result = format_source(source)
        if not result.ok:
            click.echo(render_text(result.diagnostics), err=True)
            broken += 1
            continue
        if not result.changed:
            continue
        assert result.text is not None
        changed.append(source.path)
        if show_diff:
            click.echo("".join(difflib.unified_diff(source.text.splitlines(keepends=True),
                                                    result.text.splitlines(keepends=True),
                                                    f"{source.path} (as written)", f"{source.path} (formatted)")))
        if check_only or show_diff:  # --diff shows the change, as `black --diff` and `gofmt -d` do
            click.echo(f"would reformat {source.path}")
        else:
            Path(f).write_text(result.text, encoding="utf-8")
            click.echo(f"reformatted {source.path}")
    n = len(files)
    verb = "would be reformatted" if check_only or show_diff else "reformatted"
    click.echo(f"{len(changed)} of {n} file{'s' * (n != 1)} {verb}" + (f", {broken} not parsed" if broken else ""))
    sys.exit(EXIT_INVALID if broken else EXIT_FAILED if check_only and changed else EXIT_OK)
