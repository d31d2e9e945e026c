"""The command line: `policy-engine check|...`. Imports the façade (api) only.

Exit codes: 0 success, 1 the policy or question has a problem, 2 usage error.
No input produces a traceback: a fault in the tool itself is reported in one line (exit 3).
"""

from __future__ import annotations

import json
import sys

import click

from policy_engine import __version__, api
from policy_engine.language.diagnostics import Severity, render_text


class _Group(click.Group):
    def main(self, *args, **kwargs):  # type: ignore[override]
        try:
            return super().main(*args, **kwargs)
        except (KeyboardInterrupt, BrokenPipeError):
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy-engine")
def cli() -> None:
    """Privacy policy as code: check policies and answer questions about personal data."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="sarif: for code scanning; github: GitHub Actions annotations.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check policy files (or every *.policy file in the given folders)."""
    try:
        files = api.policy_files(list(paths))
    except FileNotFoundError as err:
        raise click.UsageError(f"no such file or folder: {err}") from None
    if not files:
        raise click.UsageError("no .policy files found in " + ", ".join(paths))
    results = [api.check_file(f) for f in files]
    diags = [d for r in results for d in r.diagnostics]
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = len(diags) - errors
    failed = errors > 0 or (strict and warnings > 0)
    if fmt in ("sarif", "github"):
        from policy_engine.guard import sarif

        click.echo(sarif.render_sarif(diags) if fmt == "sarif" else sarif.render_github(diags))
    elif fmt == "json":
        click.echo(json.dumps({
            "files": [r.path for r in results],
            "diagnostics": [d.to_dict() for d in diags],
            "errors": errors,
            "warnings": warnings,
            "ok": not failed,
        }, indent=2))
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
    sys.exit(1 if failed else 0)


# ---- deciding: decide, explain -----------------------------------------------------------


def _load(path: str) -> api.Policy:
    """Load or exit 1 with the policy's diagnostics on stderr."""
    try:
        return api.load(path)
    except api.QueryError:
        raise
    except api.PolicyError as err:
        click.echo(render_text(err.diagnostics), err=True)
        sys.exit(1)


def _query_error(err: api.QueryError, where: str = "") -> None:
    click.echo(f"policy-engine: {where}{err.one_line()}", err=True)


_QUERY_FLAGS = [
    click.option("--query", "query_json", metavar="JSON", help="The query as a JSON object (SPEC section 2)."),
    click.option("--action", type=click.Choice(["collect", "use", "share", "retain"]), help="What is done."),
    click.option("--data", help="The data category, e.g. email."),
    click.option("--source", help="Where the data was collected, e.g. forum."),
    click.option("--purpose", help="What it is used (or kept) for, e.g. marketing."),
    click.option("--recipient", help="Who receives it, e.g. business_partner."),
    click.option("--fact", "facts", multiple=True, metavar="FACT",
                 help="A fact that holds (repeatable); giving any makes the world closed."),
    click.option("--no-facts", is_flag=True, help="Closed world with no fact holding (`given nothing`)."),
]


def _query_flags(func):  # type: ignore[no-untyped-def]
    for option in reversed(_QUERY_FLAGS):
        func = option(func)
    return func


def _query_from_options(query_json: str | None, action: str | None, data: str | None, source: str | None,
                        purpose: str | None, recipient: str | None, facts: tuple[str, ...],
                        no_facts: bool) -> object:
    flags = any(v is not None for v in (action, data, source, purpose, recipient)) or facts or no_facts
    if query_json is not None:
        if flags:
            raise click.UsageError("give the query either as --query JSON or with --action/--data/... flags")
        return api.parse_json(query_json)
    if not flags:
        raise click.UsageError("no query: give --query JSON, --batch FILE, or --action and --data flags")
    query: dict[str, object] = {"action": action, "data": data}
    for name, value in (("source", source), ("purpose", purpose), ("recipient", recipient)):
        if value is not None:
            query[name] = value
    if facts or no_facts:
        query["facts"] = list(facts)
    return query


@cli.command()
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@_query_flags
@click.option("--batch", type=click.File("r"), metavar="FILE",
              help="One JSON query per line (`-` for stdin); one answer per line.")
@click.option("--pretty", is_flag=True, help="Indent the JSON answer (single queries).")
def decide(policy_path: str, query_json: str | None, action: str | None, data: str | None, source: str | None,
           purpose: str | None, recipient: str | None, facts: tuple[str, ...], no_facts: bool, batch,  # type: ignore[no-untyped-def]
           pretty: bool) -> None:
    """Answer a query (or a batch of them) as JSON: allow, deny or conditional, with the rules cited.

    A malformed query or unknown term: a one-line error on stderr, exit 2; in a batch, an error
    object on that query's line, and the other lines are still answered.
    """
    if batch is not None:
        if query_json is not None or action or data or source or purpose or recipient or facts or no_facts:
            raise click.UsageError("--batch reads its queries from the file: give no other query")
        policy = _load(policy_path)
        sys.exit(_decide_batch(policy, batch))
    try:
        query = _query_from_options(query_json, action, data, source, purpose, recipient, facts, no_facts)
    except api.QueryError as err:
        _query_error(err)
        sys.exit(2)
    policy = _load(policy_path)
    try:
        answer = policy.decide(query)  # type: ignore[arg-type]
    except api.QueryError as err:
        _query_error(err)
        sys.exit(2)
    click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) if pretty else answer.to_json())


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
            _query_error(err, f"line {number}: ")
            out.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")
            continue
        cached = texts.get(id(answer))
        if cached is None:
            cached = (answer, answer.to_json())
            if len(texts) < 100_000:
                texts[id(answer)] = cached
        out.write(cached[1] + "\n")
    out.flush()
    return 2 if bad else 0


@cli.command()
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@_query_flags
def explain(policy_path: str, query_json: str | None, action: str | None, data: str | None, source: str | None,
            purpose: str | None, recipient: str | None, facts: tuple[str, ...], no_facts: bool) -> None:
    """Explain a decision in sentences, with the rules that made it."""
    try:
        query = _query_from_options(query_json, action, data, source, purpose, recipient, facts, no_facts)
    except api.QueryError as err:
        _query_error(err)
        sys.exit(2)
    policy = _load(policy_path)
    try:
        click.echo(policy.explain(query))  # type: ignore[arg-type]
    except api.QueryError as err:
        _query_error(err)
        sys.exit(2)


# ---- the data map and the graph ------------------------------------------------------------


@cli.group("map", context_settings={"help_option_names": ["-h", "--help"]})
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
    return _load(ctx.obj["path"])


def _map_call(ctx: click.Context, call, fmt: str) -> None:  # type: ignore[no-untyped-def]
    policy = _map_policy(ctx)
    try:
        rows = call(policy)
    except api.QueryError as err:
        _query_error(err)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("nothing")
        return
    for row in rows:
        click.echo(_row_text(row))


def _row_text(row) -> str:  # type: ignore[no-untyped-def]
    if hasattr(row, "relation"):
        return f"{row.relation:<8} {row.file}:{row.line} [{row.section}]  {row.rule}"
    question = f"{row.action} of {row.data}"
    for word, value in (("from", row.source), ("for", row.purpose), ("with", row.recipient)):
        if value is not None:
            question += f" {word} {value}"
    answer = row.decision + (f" if {row.requires}" if row.requires else "")
    lines = ", ".join(str(r.line) for r in row.reasons)
    return f"{question}: {answer}" + (f"  (lines {lines})" if lines else "")


_FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True)
_FACT_OPTION = click.option("--fact", "facts", multiple=True, metavar="FACT",
                            help="A fact that holds (repeatable); without any, conditions are shown.")


@map_.command("uses")
@click.option("--data", required=True, help="The data category.")
@click.option("--source", help="Only data from this source.")
@_FACT_OPTION
@_FORMAT_OPTION
@click.pass_context
def map_uses(ctx: click.Context, data: str, source: str | None, facts: tuple[str, ...], fmt: str) -> None:
    """What DATA (from SOURCE) may be used for, and under which conditions."""
    _map_call(ctx, lambda p: p.uses(data, source, list(facts) if facts else None), fmt)


@map_.command("recipients")
@click.option("--data", required=True, help="The data category.")
@click.option("--source", help="Only data from this source.")
@_FACT_OPTION
@_FORMAT_OPTION
@click.pass_context
def map_recipients(ctx: click.Context, data: str, source: str | None, facts: tuple[str, ...], fmt: str) -> None:
    """Who may receive DATA."""
    _map_call(ctx, lambda p: p.recipients(data, source, list(facts) if facts else None), fmt)


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


@map_.command("no-consent")
@_FORMAT_OPTION
@click.pass_context
def map_no_consent(ctx: click.Context, fmt: str) -> None:
    """What the policy allows when no fact (no consent at all) holds."""
    _map_call(ctx, lambda p: p.without_consent(), fmt)


@cli.command()
@click.argument("policy_path", metavar="POLICY", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write here instead of stdout.")
def graph(policy_path: str, fmt: str, output) -> None:  # type: ignore[no-untyped-def]
    """Export the compiled graph: terms, hierarchy and rule edges."""
    output.write(_load(policy_path).export_graph(fmt))


# ---- rendering for lawyers ------------------------------------------------------------------


@cli.command("render")
@click.argument("policy", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True)
@click.option("--source-text", "source_text", type=click.Path(),
              help="The published text of the policy: add the coverage view (which sentences are cited).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the document here, not to stdout.")
def render_command(policy: str, fmt: str, source_text: str | None, output: str | None) -> None:
    """Render a policy as a readable document for lawyers."""
    from policy_engine.render import document as rendering
    from policy_engine.language.source import display_path

    result = api.check_file(policy)
    if not result.ok or result.policy is None or result.source is None:
        click.echo(render_text([d for d in result.diagnostics if d.is_error]), err=True)
        sys.exit(1)
    published = None
    if source_text is not None:
        try:
            published = open(source_text, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as err:
            raise click.UsageError(f"cannot read the published text {source_text}: {err}") from None
    doc = rendering.render(result.policy, result.source, fmt, published,
                           display_path(source_text) if source_text else None)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(doc)
    else:
        click.echo(doc, nl=False)
    if published is not None:
        cov = rendering.coverage(result.policy, result.source, published)
        click.echo(f"coverage: {cov.summary()}", err=True)


# ---- the commands of the service and of the CI guardrails (their own modules) ---------------


from policy_engine.cli import serve as _server  # noqa: E402  (serve, log: the decision API)
cli.add_command(_server.serve)
cli.add_command(_server.log_command)

from policy_engine.cli import guard as _guard  # noqa: E402  (test, diff, fmt, lint: the CI guardrails)
for _command in _guard.COMMANDS:
    cli.add_command(_command)


def main() -> None:
    try:
        cli()
    except SystemExit:
        raise
    except Exception as err:  # the safety net: a bug in the tool, never a traceback for the user
        click.echo(f"policy-engine: internal error: {type(err).__name__}: {err} "
                   "(please report this with the command you ran)", err=True)
        sys.exit(3)
