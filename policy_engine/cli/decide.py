"""`policy-engine decide` and `explain`: one question (or a batch) answered as JSON, or in sentences."""

from __future__ import annotations

import json
import sys

import click

from policy_engine import api
from policy_engine.cli.common import EXIT_OK, EXIT_USAGE, load_or_exit, query_error, query_flags, query_from_options


@click.command()
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@query_flags
@click.option("--batch", type=click.File("r"), metavar="FILE",
              help="One JSON query per line (`-` for stdin); one answer per line.")
@click.option("--pretty", is_flag=True, help="Indent the JSON answer (single queries).")
def decide(policy_path: str, query_json: str | None, action: str | None, data: str | None, source: str | None,
           purpose: str | None, recipient: str | None, facts: tuple[str, ...], no_facts: bool, batch,  # type: ignore[no-untyped-def]
           pretty: bool, destination: str | None = None) -> None:
    """Answer a query (or a batch of them) as JSON: allow, deny or conditional, with the rules cited.

    A malformed query or unknown term: a one-line error on stderr, exit 2; in a batch, an error
    object on that query's line, and the other lines are still answered.
    """
    if batch is not None:
        if query_json is not None or action or data or source or purpose or recipient or destination or facts \
                or no_facts:
            raise click.UsageError("--batch reads its queries from the file: give no other query")
        policy = load_or_exit(policy_path)
        sys.exit(_decide_batch(policy, batch))
    answer = _ask(policy_path, (query_json, action, data, source, purpose, recipient, facts, no_facts, destination),
                  lambda policy, query: policy.decide(query))
    click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) if pretty else answer.to_json())


def _ask(policy_path: str, flags: tuple, ask):  # type: ignore[no-untyped-def,type-arg]
    """The query from the flags, then the policy, then the answer; a bad query exits 2 in one line."""
    try:
        query = query_from_options(*flags)
    except api.QueryError as err:
        query_error(err)
        sys.exit(EXIT_USAGE)
    policy = load_or_exit(policy_path)
    try:
        return ask(policy, query)
    except api.QueryError as err:
        query_error(err)
        sys.exit(EXIT_USAGE)


def _decide_batch(policy: api.Policy, lines) -> int:  # type: ignore[no-untyped-def]
    texts: dict[int, tuple[object, str]] = {}  # id(decision) -> (decision, its JSON): decisions repeat
    out = sys.stdout
    bad = 0
    for number, line in enumerate(lines, 1):
        try:
            if not line.strip():
                raise api.QueryError("query.invalid_json", "the line is empty: expected a JSON query")
            answer = policy.decide(api.parse_json(line))
        except api.QueryError as err:
            bad += 1
            query_error(err, f"line {number}: ")
            out.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")
            continue
        cached = texts.get(id(answer))
        if cached is None:
            cached = (answer, answer.to_json())
            if len(texts) < 100_000:
                texts[id(answer)] = cached
        out.write(cached[1] + "\n")
    out.flush()
    return EXIT_USAGE if bad else EXIT_OK


@click.command()
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@query_flags
def explain(policy_path: str, query_json: str | None, action: str | None, data: str | None, source: str | None,
            purpose: str | None, recipient: str | None, facts: tuple[str, ...], no_facts: bool,
            destination: str | None = None) -> None:
    """Explain a decision in sentences, with the rules that made it."""
    click.echo(_ask(policy_path, (query_json, action, data, source, purpose, recipient, facts, no_facts, destination),
                    lambda policy, query: policy.explain(query)))
