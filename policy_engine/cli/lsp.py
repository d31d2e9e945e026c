"""`policy-engine lsp`: the language server for editors, over stdio."""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default and only transport; "
              "accepted because editors pass it).")
def lsp_command(stdio: bool) -> None:
    """Run the language server: diagnostics, hover, completion, go to definition, formatting and
    quick fixes for *.policy files, for any editor that speaks the Language Server Protocol."""
    try:
        from policy_engine.lsp.server import main
    except ImportError as err:  # pygls is a dependency; a broken install should say so in one line
        raise click.ClickException(f"the language server needs pygls ({err}); reinstall policy-engine") from None
    main()
