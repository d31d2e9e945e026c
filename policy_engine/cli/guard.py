"""The CI guardrail commands: `test`, `diff`, `fmt`, `lint` (registered by cli/app.py).

Exit codes, as for every command: 0 success, 1 the policy has a problem (a failed test, a
widening, a file fmt would change, a lint error), 2 usage error.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from policy_engine import api
from policy_engine.language.diagnostics import PolicyError, Severity, render_text
from policy_engine.language.source import Source, display_path


def _files(paths: tuple[str, ...]) -> list[Path]:
    """The given files and folders (folders: every *.policy below), default `policies/` of the repo."""
    from policy_engine.guard.workspace import default_paths

    try:
        roots: list[str | Path] = list(paths) if paths else list(default_paths())
        files = api.policy_files(roots)
    except FileNotFoundError as err:
        if not paths:
            raise click.UsageError(f"no policies/ folder in this repository ({err}); name the policy files") \
                from None
        raise click.UsageError(f"no such file or folder: {err}") from None
    if not files:
        raise click.UsageError("no .policy files found in " + ", ".join(str(p) for p in (paths or roots)))
    return files


# ---- test -----------------------------------------------------------------------------------


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="List the expectations and invariants that pass, too.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (the summary line "
              "still goes to stdout).")
def test_command(paths: tuple[str, ...], fmt: str, verbose: bool, output: str | None) -> None:
    """Run every expectation and invariant in the policies (default: policies/ of this repository).

    Each failure shows file:line, the question, the wanted and the actual decision, and the rules
    that decided it. The last line reads `N passed, M failed`; exit 1 on any failure."""
    from policy_engine.guard import testing

    report = testing.run(_files(paths))
    text = {"text": lambda: testing.render_text(report, verbose), "json": lambda: testing.render_json(report),
            "junit": lambda: testing.render_junit(report)}[fmt]()
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(report.summary())
    else:
        click.echo(text)
    sys.exit(0 if report.ok else 1)


# ---- diff -----------------------------------------------------------------------------------


Side = str | Path | None  # a policy's text, the file to read it from, or None: no such file (an empty policy)


def _source(side: Side, name: str) -> Source:
    """Raises PolicyError for a file that cannot be read (so it is reported like a policy error)."""
    return api.read_source(side) if isinstance(side, Path) else Source(side or "", name)


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
    anything is allowed now that was not before (widened), unless --allow-widening."""
    from policy_engine.guard import diff as semantic
    from policy_engine.guard.diff_report import render_json, render_markdown, render_text as render_diff_text
    from policy_engine.guard.workspace import load_source

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
            old = load_source(_source(old_side, old_name))
            new = load_source(_source(new_side, new_name))
        except PolicyError as err:
            click.echo(render_text(err.diagnostics), err=True)
            failed = True
            continue
        results.append(semantic.semantic_diff(old, new))
    if failed:
        click.echo("cannot compare: a policy does not check (fix the errors above)", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(render_json(results))
    elif fmt == "markdown":
        click.echo(render_markdown(results, allow_widening))
    else:
        click.echo(render_diff_text(results, allow_widening, show_all))
    widened = sum(r.widened for r in results)
    sys.exit(1 if widened and not allow_widening else 0)


# ---- fmt ------------------------------------------------------------------------------------


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if a file is not formatted.")
@click.option("--diff", "show_diff", is_flag=True, help="Show what would change, as a unified diff.")
def fmt_command(paths: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Format policy files in the one canonical layout, keeping every comment.

    `-` formats stdin to stdout. With --check nothing is written and the exit code is 1 when a
    file would change. A file that does not parse is left alone and reported (exit 1)."""
    from policy_engine.language.formatter import format_source

    if paths == ("-",):
        result = format_source(Source(sys.stdin.read(), "<stdin>"))
        if not result.ok:
            click.echo(render_text(result.diagnostics), err=True)
            sys.exit(1)
        assert result.text is not None
        if check_only:
            sys.exit(1 if result.changed else 0)
        click.echo(result.text, nl=False)
        sys.exit(0)
    files = _files(paths)
    changed, broken = [], 0
    for f in files:
        try:
            source = api.read_source(f)
        except PolicyError as err:
            click.echo(render_text(err.diagnostics), err=True)
            broken += 1
            continue
        result = format_source(source)
        if not result.ok:
            click.echo(render_text(result.diagnostics), err=True)
            broken += 1
            continue
        if not result.changed:
            continue
        assert result.text is not None
        changed.append(source.path)
        if show_diff:
            click.echo("".join(difflib.unified_diff(source.text.splitlines(keepends=True),
                                                    result.text.splitlines(keepends=True),
                                                    f"{source.path} (as written)", f"{source.path} (formatted)")))
        if check_only:
            click.echo(f"would reformat {source.path}")
        else:
            Path(f).write_text(result.text, encoding="utf-8")
            click.echo(f"reformatted {source.path}")
    n = len(files)
    verb = "would be reformatted" if check_only else "reformatted"
    click.echo(f"{len(changed)} of {n} file{'s' * (n != 1)} {verb}" + (f", {broken} not parsed" if broken else ""))
    sys.exit(1 if broken or (check_only and changed) else 0)


# ---- lint -----------------------------------------------------------------------------------


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def lint_command(paths: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Find rules that never take effect, duplicates, allow/deny conflicts, unused terms, empty
    sections, uses without a legal basis, data without retention, constant conditions."""
    from policy_engine.guard import lint as linting
    from policy_engine.guard.sarif import render_github, render_sarif
    from policy_engine.guard.workspace import load_source

    findings: list = []  # type: ignore[type-arg]
    files = _files(paths)
    for f in files:
        result = api.check_file(f)
        errors = [d for d in result.diagnostics if d.is_error]
        if errors or result.source is None:
            findings.extend(errors)  # a policy that does not check cannot be linted
            continue
        findings.extend(linting.lint(load_source(result.source)))
    errors = sum(_severity(x) is Severity.ERROR for x in findings)
    warnings = len(findings) - errors
    if fmt == "sarif":
        click.echo(render_sarif(findings, linting.CODES))
    elif fmt == "github":
        if findings:
            click.echo(render_github(findings))
    elif fmt == "json":
        click.echo(json.dumps({"files": [display_path(f) for f in files],
                               "findings": [x.to_dict() for x in findings],
                               "errors": errors, "warnings": warnings}, indent=2))
    else:
        for x in findings:
            click.echo(x.render())
            click.echo()
        n = len(files)
        click.echo(f"{n} file{'s' * (n != 1)} linted: {errors} error{'s' * (errors != 1)}, "
                   f"{warnings} warning{'s' * (warnings != 1)}")
    sys.exit(1 if errors or (strict and warnings) else 0)


def _severity(item: object) -> Severity:
    d = getattr(item, "diagnostic", item)
    return d.severity  # type: ignore[attr-defined,no-any-return]


COMMANDS = [test_command, diff_command, fmt_command, lint_command]
