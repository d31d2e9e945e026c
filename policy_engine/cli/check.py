"""`policy-engine check`: diagnostics for policy files, as text, JSON, SARIF or GitHub annotations."""

from __future__ import annotations

import sys

import click

from policy_engine import api
from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, envelope
from policy_engine.language.diagnostics import Severity, render_text


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="sarif: for code scanning; github: GitHub Actions annotations.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The lint configuration whose settings for warnings apply (default: the nearest one).")
def check(paths: tuple[str, ...], fmt: str, strict: bool, config_path: str | None) -> None:
    """Check policy files (or every *.policy file in the given folders).

    A warning suppressed by `# lint: ignore[CODE] reason`, or disabled in the lint
    configuration, is not shown (errors always are).

    Exit 4 when a file has an error (it does not check), 5 with --strict when it has warnings."""
    try:
        files = api.policy_files(list(paths))
    except FileNotFoundError as err:
        raise click.UsageError(f"no such file or folder: {err}") from None
    if not files:
        raise click.UsageError("no .policy files found in " + ", ".join(paths))
    from policy_engine.guard import lint_config, lint_run

    results = [api.check_file(f) for f in files]
    diags = []
    configs: dict = {}  # type: ignore[type-arg]
    for r in results:
        try:
            config = lint_config.for_file(r.path, lint_run.KNOWN, config_path, configs)
        except lint_config.ConfigError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_USAGE)
        diags += [f.diagnostic for f in lint_run.check_warnings(r, config).findings]
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = len(diags) - errors
    code = EXIT_INVALID if errors else EXIT_FAILED if strict and warnings else EXIT_OK
    if fmt in ("sarif", "github"):
        from policy_engine.guard import sarif

        click.echo(sarif.render_sarif(diags) if fmt == "sarif" else sarif.render_github(diags))
    elif fmt == "json":
        click.echo(envelope("check", code == EXIT_OK, code, [d.to_dict() for d in diags],
                            files=[r.path for r in results], errors=errors, warnings=warnings))
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
    sys.exit(code)
