"""`policy-engine lint`: what is legal in the language but probably not what the author meant."""

from __future__ import annotations

import sys

import click

from policy_engine import api
from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, envelope, policy_paths
from policy_engine.language.diagnostics import Severity
from policy_engine.language.source import display_path


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--completeness", is_flag=True, help="Also list what GDPR Art. 13/14 asks a notice to state "
              "that the policy does not (codes art13.*).")
def lint_command(paths: tuple[str, ...], fmt: str, strict: bool, completeness: bool) -> None:
    """Find rules that never take effect, duplicates, allow/deny conflicts, unused terms, empty
    sections, uses without a legal basis, data without retention, constant conditions.

    Exit 4 when a file does not check (it cannot be linted), 5 on a lint error (or, with
    --strict, a warning)."""
    from policy_engine.guard import lint as linting
    from policy_engine.guard.sarif import render_github, render_sarif

    findings: list = []  # type: ignore[type-arg]
    files = policy_paths(paths)
    unchecked = 0  # files that do not check
    for f in files:
        result = api.check_file(f)
        if not result.ok:
            findings.extend(result.errors)  # a policy that does not check cannot be linted
            unchecked += 1
            continue
        findings.extend(linting.lint(api.compile_checked(result), completeness))  # parsed and checked once
    errors = sum(_severity(x) is Severity.ERROR for x in findings)
    warnings = len(findings) - errors
    code = EXIT_INVALID if unchecked else EXIT_FAILED if errors or (strict and warnings) else EXIT_OK
    if fmt == "sarif":
        from policy_engine.guard.completeness import CODES as ART13

        click.echo(render_sarif(findings, {**linting.DESCRIPTIONS, **ART13}))
    elif fmt == "github":
        if findings:
            click.echo(render_github(findings))
    elif fmt == "json":
        click.echo(envelope("lint", code == EXIT_OK, code, [x.to_dict() for x in findings],
                            files=[display_path(f) for f in files], errors=errors, warnings=warnings))
    else:
        for x in findings:
            click.echo(x.render())
            click.echo()
        n = len(files)
        click.echo(f"{n} file{'s' * (n != 1)} linted: {errors} error{'s' * (errors != 1)}, "
                   f"{warnings} warning{'s' * (warnings != 1)}")
    sys.exit(code)


def _severity(item: object) -> Severity:
    d = getattr(item, "diagnostic", item)
    return d.severity  # type: ignore[attr-defined,no-any-return]
