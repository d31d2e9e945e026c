"""`policy-engine export`: the policy for other privacy tools (DPV JSON-LD, fideslang YAML)."""

from __future__ import annotations

import click

from policy_engine.cli.common import load_or_exit


@click.command("export")
@click.argument("policy", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["dpv", "fideslang"]), required=True,
              help="dpv: the W3C Data Privacy Vocabulary as JSON-LD; fideslang: fideslang's data categories, "
                   "data uses and a system, as YAML.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write it here, not to stdout.")
def export_command(policy: str, fmt: str, output: str | None) -> None:
    """Export what the policy allows, per purpose, in a shared privacy vocabulary."""
    from policy_engine.render import exports

    text = exports.export(load_or_exit(policy), fmt)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)
