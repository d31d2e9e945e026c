"""`policy-engine ropa`: the record of processing activities (GDPR Art. 30(1)) of a policy."""

from __future__ import annotations

import sys

import click

from policy_engine.cli.common import load_or_exit


@click.command("ropa")
@click.argument("policy", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "html", "json"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the record here, not to stdout (xlsx is binary: give a file).")
def ropa_command(policy: str, fmt: str, output: str | None) -> None:
    """The record of processing activities (GDPR Art. 30(1)): one row per purpose, with the data
    subjects, data, legal basis, recipients, transfers, retention, security, controller and DPO."""
    from policy_engine.render import ropa, ropa_writers

    out = ropa_writers.write(ropa.record(load_or_exit(policy)), fmt)
    if output:
        with open(output, "wb") as f:
            f.write(out if isinstance(out, bytes) else out.encode("utf-8"))
    elif isinstance(out, bytes):
        if sys.stdout.isatty():
            raise click.UsageError("xlsx is a binary file: write it with -o FILE.xlsx")
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    else:
        click.echo(out, nl=False)
