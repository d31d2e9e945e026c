"""`policy-engine rights`: the rights question (who has a data-subject right, and how it is
exercised) answered as JSON, the same shape `Policy.rights` returns."""

from __future__ import annotations

import json
import sys

import click

from policy_engine import api
from policy_engine.cli.common import load_or_exit, query_error


@click.command("rights")
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@click.option("--query", "query_json", metavar="JSON", help='The question: {"right": "erasure", "facts": [...]}.')
@click.option("--right", help="The right asked about (instead of --query).")
@click.option("--fact", "facts", multiple=True, help="A fact that holds (repeatable); the others are false.")
@click.option("--no-facts", is_flag=True, help="No fact holds (without it and --fact, the facts are unknown).")
@click.option("--pretty", is_flag=True, help="Indent the JSON answer.")
def rights_command(policy_path: str, query_json: str | None, right: str | None, facts: tuple[str, ...],
                   no_facts: bool, pretty: bool) -> None:
    """Whether a person has a data-subject right under the policy: allow, deny or conditional, with
    its channels, response deadline and extension, frequency limit, exceptions and the statements cited.

    A malformed question or unknown right or fact: a one-line error on stderr, exit 2.
    """
    if (query_json is None) == (right is None):
        raise click.UsageError("give the question as --query JSON or as --right (with --fact or --no-facts)")
    if query_json is not None and (facts or no_facts):
        raise click.UsageError("--query carries its own facts: give no --fact or --no-facts")
    try:
        query = api.parse_json(query_json) if query_json is not None else {
            "right": right, "facts": list(facts) if facts or no_facts else None}
    except api.QueryError as err:
        query_error(err)
        sys.exit(2)
    policy = load_or_exit(policy_path)
    try:
        answer = policy.rights(query)
    except api.QueryError as err:
        query_error(err)
        sys.exit(2)
    click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) if pretty else answer.to_json())
