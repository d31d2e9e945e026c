"""`policy-engine diff`: what changed in meaning between two policies, or against a git revision."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from policy_engine import api
from policy_engine.cli.common import EXIT_INVALID, EXIT_OK, EXIT_WIDENED, envelope
from policy_engine.language.diagnostics import PolicyError, render_text
from policy_engine.language.source import display_path


Side = bytes | Path | None  # a policy's bytes, the file to read them from, or None: no such file (an empty policy)


def _load(side: Side, name: str) -> api.Policy:
    """Raises PolicyError for a file that cannot be read or does not check (reported like a policy error)."""
    return api.load_path(side) if isinstance(side, Path) else api.load_bytes(side or b"", name)


T = TypeVar("T")


def _from_git(read: Callable[..., T], *args: Any) -> T:
    """A workspace read at a revision; its errors (not a repository, no such revision, no git)
    already name the problem, so they become usage errors as they are."""
    try:
        return read(*args)
    except (RuntimeError, ValueError) as err:
        raise click.UsageError(str(err)) from None


def _pairs_at_base(rev: str, paths: tuple[str, ...]) -> list[tuple[str, Side, str, Side]]:
    """(old name, old text, new name, new file) for each policy file at REV and in the working tree."""
    from policy_engine.guard.workspace import at_revision, default_paths, files_at_revision

    try:
        roots = [Path(p) for p in paths] if paths else default_paths()
    except FileNotFoundError as err:
        raise click.UsageError(f"no policies/ folder in this repository ({err}); name the policy files") from None
    names: dict[str, None] = {}
    for root in roots:
        if root.is_dir():
            for f in api.policy_files([root]):
                names.setdefault(display_path(f))
            for f in _from_git(files_at_revision, root, rev):
                names.setdefault(f)
        else:
            names.setdefault(display_path(root))
    out = []
    for name in names:
        old = _from_git(at_revision, name, rev)
        p = Path(name)
        if old is None and not p.is_file():
            raise click.UsageError(f"{name} exists neither at {rev} nor in the working tree")
        out.append((f"{name}@{rev}", old, name, p if p.is_file() else None))
    return out


@click.command("diff")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--base", "base", metavar="REV", help="Compare the working tree's policies (PATHS, default "
              "policies/) with the same files at git revision REV.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--allow-widening", is_flag=True, help="Exit 0 even when something is allowed now that was not.")
@click.option("--all", "show_all", is_flag=True, help="Text: list every question, not only the summary.")
def diff_command(paths: tuple[str, ...], base: str | None, fmt: str, allow_widening: bool, show_all: bool) -> None:
    """What changed in meaning between two policies: every question whose answer changed.

    `policy-engine diff OLD NEW`, or `policy-engine diff --base REV [PATH...]`. Exit 1 when
    anything is allowed now that was not before (widened), unless --allow-widening; exit 4 when a
    policy does not check (nothing is compared)."""
    from policy_engine.guard import renames as semantic  # the semantic diff, renamed terms recognised
    from policy_engine.guard.diff_report import json_fields, render_markdown, render_text as render_diff_text

    if base is not None:
        pairs = _pairs_at_base(base, paths)
    else:
        if len(paths) != 2:
            raise click.UsageError("name two policy files (OLD NEW), or use --base REV")
        for p in paths:
            if not Path(p).is_file():
                raise click.UsageError(f"no such file: {p}")
        pairs = [(display_path(paths[0]), Path(paths[0]), display_path(paths[1]), Path(paths[1]))]
    results = []
    failed = False
    for old_name, old_side, new_name, new_side in pairs:
        try:
            old = _load(old_side, old_name)
            new = _load(new_side, new_name)
        except PolicyError as err:
            click.echo(render_text(err.diagnostics), err=True)
            failed = True
            continue
        results.append(semantic.semantic_diff(old, new))
    if failed:
        click.echo("cannot compare: a policy does not check (fix the errors above)", err=True)
        sys.exit(EXIT_INVALID)
    widened = sum(r.widened for r in results)
    code = EXIT_WIDENED if widened and not allow_widening else EXIT_OK
    if fmt == "json":
        fields = json_fields(results)
        click.echo(envelope("diff", code == EXIT_OK, code, fields.pop("findings"), **fields))
    elif fmt == "markdown":
        click.echo(render_markdown(results, allow_widening))
    else:
        click.echo(render_diff_text(results, allow_widening, show_all))
    sys.exit(code)
