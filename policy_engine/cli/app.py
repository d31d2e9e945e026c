"""The command line: the `policy-engine` group and its safety net; each command group lives in
its own module (check, decide, map, render, test, diff, fmt, lint, serve).

Exit codes: cli/common.py (EXIT_*), documented in docs/cli.md. No input produces a traceback:
a fault in the tool itself is reported in one line (EXIT_INTERNAL, 3).
"""

from __future__ import annotations

import sys

import click

from policy_engine import __version__
from policy_engine.cli import extras
from policy_engine.cli.common import EXIT_INTERNAL


class _Group(click.Group):
    def main(self, *args, **kwargs):  # type: ignore[override]
        try:
            return super().main(*args, **kwargs)
        except (KeyboardInterrupt, BrokenPipeError):
            sys.exit(130)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as err:  # a lazily imported extra (serve: [server]) is not installed
            extras.exit_if_missing_extra(err, ctx.invoked_subcommand)
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="policy-engine")
def cli() -> None:
    """Privacy policy as code: check policies and answer questions about personal data."""


from policy_engine.cli import check, decide, diff, fmt, lint, map, render, serve, test  # noqa: E402
from policy_engine.cli import export, replay, ropa  # noqa: E402
from policy_engine.cli import ship_logs  # noqa: E402
from policy_engine.cli import lsp, playground  # noqa: E402
from policy_engine.cli import subjects  # noqa: E402
from policy_engine.cli import rights  # noqa: E402
from policy_engine.cli import health  # noqa: E402

for _command in (check.check, decide.decide, decide.explain, map.map_, map.graph, render.render_command,
                 test.test_command, diff.diff_command, fmt.fmt_command, lint.lint_command, serve.serve,
                 serve.log_command, ropa.ropa_command, export.export_command,
                 ship_logs.ship_logs,
                 lsp.lsp_command, playground.playground_command, replay.replay_command,
                 subjects.subjects, subjects.retention, rights.rights_command, health.health):
    cli.add_command(_command)


def main() -> None:
    try:
        cli()
    except SystemExit:
        raise
    except Exception as err:  # the safety net: a bug in the tool, never a traceback for the user
        click.echo(f"policy-engine: internal error: {type(err).__name__}: {err} "
                   "(please report this with the command you ran)", err=True)
        sys.exit(EXIT_INTERNAL)
