"""`policy-engine test`: every expectation and invariant, as text, JSON or JUnit XML; `--run`
selects some, `--coverage` lists the rules none of them exercises."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from policy_engine.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, envelope, policy_paths


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@click.option("--run", "pattern", metavar="PATTERN", help="Only the expectations and invariants whose "
              "`file:line section: statement` this regular expression finds, e.g. `Marketing` or `:208 `.")
@click.option("--coverage", "with_coverage", is_flag=True, help="Also list, per section, the rules that no "
              "expectation or invariant (of those run) exercises.")
@click.option("-v", "--verbose", is_flag=True, help="List the expectations and invariants that pass, too.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (the summary line "
              "still goes to stdout).")
def test_command(paths: tuple[str, ...], fmt: str, pattern: str | None, with_coverage: bool, verbose: bool,
                 output: str | None) -> None:
    """Run every expectation and invariant in the policies (default: policies/ of this repository).

    Each failure shows file:line, the question, the wanted and the actual decision, and the rules
    that decided it. The last line reads `N passed, M failed`. Exit 5 on any failure, 4 when a
    policy does not check (nothing in it can be tested), 2 when --run selects nothing."""
    from policy_engine.guard import test_report, testing

    select = None
    if pattern is not None:
        try:
            select = re.compile(pattern)
        except re.error as err:
            raise click.UsageError(f"--run {pattern!r} is not a regular expression: {err}") from None
    report = testing.run(policy_paths(paths), select, with_coverage)
    if select is not None and not report.passed + report.failed:
        raise click.UsageError(f"--run {pattern!r} selects no expectation or invariant "
                               f"({sum(f.skipped for f in report.files)} in the files)")
    code = EXIT_INVALID if any(f.errors for f in report.files) else EXIT_FAILED if not report.ok else EXIT_OK
    if fmt == "json":
        fields = test_report.json_fields(report)
        text = envelope("test", code == EXIT_OK, code, fields.pop("findings"), **fields)
    else:
        text = test_report.render_text(report, verbose) if fmt == "text" else test_report.render_junit(report)
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(report.summary())
    else:
        click.echo(text)
    sys.exit(code)
