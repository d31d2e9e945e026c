"""`policy-engine render`: the policy as a document for lawyers."""

from __future__ import annotations

import sys

import click

from policy_engine import api
from policy_engine.cli.common import exit_for_unloaded
from policy_engine.language.diagnostics import render_text


@click.command("render")
@click.argument("policy", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True)
@click.option("--source-text", "source_text", type=click.Path(),
              help="The published text of the policy: add the coverage view (which sentences are cited).")
@click.option("--template", type=click.Path(dir_okay=False),
              help="An HTML template (Jinja2) of your own, used instead of the shipped one; it may "
                   "{% extends \"document.html.j2\" %}. Needs --format html.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the document here, not to stdout.")
def render_command(policy: str, fmt: str, source_text: str | None, template: str | None,
                   output: str | None) -> None:
    """Render a policy as a readable document for lawyers."""
    from policy_engine.language.source import display_path
    from policy_engine.render import coverage as covering
    from policy_engine.render import document as rendering
    from policy_engine.render.writers import TemplateError

    if template is not None and fmt != "html":
        raise click.UsageError("--template is an HTML template: add --format html")
    result = api.check_file(policy)
    if not result.ok or result.policy is None or result.source is None:
        click.echo(render_text([d for d in result.diagnostics if d.is_error]), err=True)
        sys.exit(exit_for_unloaded(result.errors))
    cov = None
    if source_text is not None:
        try:
            published = open(source_text, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as err:
            raise click.UsageError(f"cannot read the published text {source_text}: {err}") from None
        cov = covering.coverage(result.policy, result.source, published)  # once: the document and the summary
    try:
        doc = rendering.render(result.policy, result.source, fmt, None,
                               display_path(source_text) if source_text else None, template=template, cov=cov)
    except TemplateError as err:
        raise click.UsageError(str(err)) from None
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(doc)
    else:
        click.echo(doc, nl=False)
    if cov is not None:
        click.echo(f"coverage: {cov.summary()}", err=True)
