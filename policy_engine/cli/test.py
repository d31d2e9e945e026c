"""`policy-engine test`: every expectation and invariant, as text, JSON or JUnit XML."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from policy_engine.cli.common import policy_paths


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="List the expectations and invariants that pass, too.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (the summary line "
              "still goes to stdout).")
def test_command(paths: tuple[str, ...], fmt: str, verbose: bool, output: str | None) -> None:
    """Run every expectation and invariant in the policies (default: policies/ of this repository).

    Each failure shows file:line, the question, the wanted and the actual decision, and the rules
    that decided it. The last line reads `N passed, M failed`; exit 1 on any failure."""
    from policy_engine.guard import test_report, testing

    report = testing.run(policy_paths(paths))
    text = {"text": lambda: test_report.render_text(report, verbose), "json": lambda: test_report.render_json(report),
            "junit": lambda: test_report.render_junit(report)}[fmt]()
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(report.summary())
    else:
        click.echo(text)
    sys.exit(0 if report.ok else 1)
