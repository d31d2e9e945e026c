"""`policy-engine map` (the data map) and `graph` (the compiled graph)."""

from __future__ import annotations

import json
import sys

import click

from policy_engine import api
from policy_engine.engine import words
from policy_engine.cli.common import EXIT_USAGE, load_or_exit, query_error


@click.group("map", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@click.pass_context
def map_(ctx: click.Context, policy_path: str) -> None:
    """The data map: what the policy lets happen to each kind of data.

    \b
    policy-engine map POLICY uses --data email [--source forum] [--fact F]...
    policy-engine map POLICY recipients --data email [--source contact]
    policy-engine map POLICY data --recipient business_partner
    policy-engine map POLICY purpose marketing
    policy-engine map POLICY no-consent

    Each question takes --format text|json.
    """
    ctx.obj = {"path": policy_path}


def _map_policy(ctx: click.Context) -> api.Policy:
    return load_or_exit(ctx.obj["path"])


def _map_call(ctx: click.Context, call, fmt: str) -> None:  # type: ignore[no-untyped-def]
    policy = _map_policy(ctx)
    try:
        rows = call(policy)
    except api.QueryError as err:
        query_error(err)
        sys.exit(EXIT_USAGE)
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("nothing")
        return
    for row in rows:
        click.echo(_row_text(row))


def _row_text(row) -> str:  # type: ignore[no-untyped-def]
    if hasattr(row, "destinations"):  # a transfer
        return f"{words.transfer(row)}  (line {row.line})"
    if hasattr(row, "relation"):
        return f"{row.relation:<8} {row.file}:{row.line} [{row.section}]  {row.rule}"
    question = words.question(row.to_dict(), facts=False)
    answer = row.decision + (f" if {row.requires}" if row.requires else "")
    lines = ", ".join(str(r.line) for r in row.reasons)
    return f"{question}: {answer}" + (f"  (lines {lines})" if lines else "")


_FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True)
_FACT_OPTION = click.option("--fact", "facts", multiple=True, metavar="FACT",
                            help="A fact that holds (repeatable); without any, conditions are shown.")


def _data_question(name: str, doc: str, ask):  # type: ignore[no-untyped-def]
    """A map question about one data category (from one source or each): `uses`, `recipients`."""

    @map_.command(name, help=doc)
    @click.option("--data", required=True, help="The data category.")
    @click.option("--source", help="Only data from this source.")
    @_FACT_OPTION
    @_FORMAT_OPTION
    @click.pass_context
    def command(ctx: click.Context, data: str, source: str | None, facts: tuple[str, ...], fmt: str) -> None:
        _map_call(ctx, lambda p: ask(p, data, source, list(facts) if facts else None), fmt)

    return command


map_uses = _data_question("uses", "What DATA (from SOURCE) may be used for, and under which conditions.",
                          lambda p, data, source, facts: p.uses(data, source, facts))
map_recipients = _data_question("recipients", "Who may receive DATA (shared from SOURCE, for which purposes).",
                                lambda p, data, source, facts: p.recipients(data, source, facts))


@map_.command("data")
@click.option("--recipient", required=True, help="The recipient.")
@_FACT_OPTION
@_FORMAT_OPTION
@click.pass_context
def map_data(ctx: click.Context, recipient: str, facts: tuple[str, ...], fmt: str) -> None:
    """Which data reach RECIPIENT."""
    _map_call(ctx, lambda p: p.data_for(recipient, list(facts) if facts else None), fmt)


@map_.command("purpose")
@click.argument("purpose")
@_FORMAT_OPTION
@click.pass_context
def map_purpose(ctx: click.Context, purpose: str, fmt: str) -> None:
    """Which rules cover PURPOSE (or a narrower purpose)."""
    _map_call(ctx, lambda p: p.rules_for_purpose(purpose), fmt)


@map_.command("transfers")
@_FORMAT_OPTION
@click.pass_context
def map_transfers(ctx: click.Context, fmt: str) -> None:
    """Which data the policy lets go to which region, and the safeguard each transfer relies on."""
    _map_call(ctx, lambda p: p.transfers(), fmt)


@map_.command("no-consent")
@_FORMAT_OPTION
@click.pass_context
def map_no_consent(ctx: click.Context, fmt: str) -> None:
    """What the policy allows when no fact (no consent at all) holds."""
    _map_call(ctx, lambda p: p.without_consent(), fmt)


@click.command()
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write here instead of stdout.")
def graph(policy_path: str, fmt: str, output) -> None:  # type: ignore[no-untyped-def]
    """Export the compiled graph: terms, hierarchy and rule edges."""
    output.write(load_or_exit(policy_path).export_graph(fmt))
