"""`policy-engine lint`: what is legal in the language but probably not what the author meant."""

from __future__ import annotations

import sys

import click

from policy_engine import api
from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, envelope, policy_paths
from policy_engine.language.diagnostics import Severity
from policy_engine.language.source import display_path


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--completeness", is_flag=True, help="Also list what GDPR Art. 13/14 asks a notice to state "
              "that the policy does not (codes art13.*).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The lint configuration to use (default: the nearest policy-engine.toml, or pyproject.toml "
              "with [tool.policy-engine.lint], above each policy file).")
@click.option("--codes", "list_codes", is_flag=True, help="List every code lint reports, and exit.")
def lint_command(paths: tuple[str, ...], fmt: str, strict: bool, completeness: bool, config_path: str | None,
                 list_codes: bool) -> None:
    """Find rules that never take effect, duplicates, allow/deny conflicts, unused terms, empty
    sections, uses without a legal basis, data without retention, constant conditions.

    A finding judged wrong is suppressed where it is, with the reason:
    `# lint: ignore[lint.conflict] why` beside the statement or on the line above it.

    Exit 4 when a file does not check (it cannot be linted), 5 on a lint error (or, with
    --strict, a warning)."""
    from policy_engine.guard import lint_config, lint_run
    from policy_engine.guard.sarif import render_github, render_sarif

    if list_codes:
        for code, text in sorted(lint_run.KNOWN.items()):
            click.echo(f"{code:34} {text}")
        sys.exit(EXIT_OK)
    findings: list = []  # type: ignore[type-arg]
    suppressed: list = []  # type: ignore[type-arg]
    files = policy_paths(paths)
    unchecked = 0  # files that do not check
    configs: dict = {}  # type: ignore[type-arg]
    for f in files:
        try:
            config = lint_config.for_file(str(f), lint_run.KNOWN, config_path, configs)
        except lint_config.ConfigError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_USAGE)
        result = api.check_file(f)
        if not result.ok:
            findings.extend(result.errors)  # a policy that does not check cannot be linted
            unchecked += 1
            continue
        outcome = lint_run.run(result, config, completeness)  # parsed and checked once
        findings.extend(outcome.findings)
        suppressed.extend(outcome.suppressed)
    errors = sum(_severity(x) is Severity.ERROR for x in findings)
    warnings = len(findings) - errors
    code = EXIT_INVALID if unchecked else EXIT_FAILED if errors or (strict and warnings) else EXIT_OK
    if fmt == "sarif":
        click.echo(render_sarif(findings, lint_run.KNOWN, suppressed=suppressed))
    elif fmt == "github":
        if findings:
            click.echo(render_github(findings))
    elif fmt == "json":
        click.echo(envelope("lint", code == EXIT_OK, code, [x.to_dict() for x in findings],
                            files=[display_path(f) for f in files], errors=errors, warnings=warnings,
                            suppressed=[{**s.finding.to_dict(), "reason": s.reason} for s in suppressed]))
    else:
        for x in findings:
            click.echo(x.render())
            click.echo()
        n = len(files)
        hidden = f" ({len(suppressed)} suppressed)" if suppressed else ""
        click.echo(f"{n} file{'s' * (n != 1)} linted: {errors} error{'s' * (errors != 1)}, "
                   f"{warnings} warning{'s' * (warnings != 1)}{hidden}")
    sys.exit(code)


def _severity(item: object) -> Severity:
    d = getattr(item, "diagnostic", item)
    return d.severity  # type: ignore[attr-defined,no-any-return]
