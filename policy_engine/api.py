"""The façade: read, check (and, built on them, load and decide). The outer layer (CLI,
server, test runner) imports this module, never the inner ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from policy_engine.language import ast
from policy_engine.language.checker import check
from policy_engine.language.diagnostics import Diagnostic, PolicyError, has_errors, sort_diagnostics
from policy_engine.language.parser import parse
from policy_engine.language.source import Source, Span, display_path

POLICY_SUFFIX = ".policy"


@dataclass
class CheckResult:
    """One file's outcome. `policy` is set whenever the file parsed, even with check errors."""

    path: str
    source: Source | None
    policy: ast.Policy | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def decode(data: bytes, path: str) -> Source:
    """Bytes -> Source; invalid UTF-8 raises PolicyError pointing at the first bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not part of the text
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        good = data[: err.start].decode("utf-8", errors="replace")
        shown = Source(data.decode("utf-8", errors="replace"), path)
        raise PolicyError([Diagnostic(
            "source.invalid_utf8", f"this file is not valid UTF-8 text (byte 0x{data[err.start]:02x})", shown,
            Span(len(good), len(good) + 1),
            help="save the file as UTF-8; most editors offer it under 'Save with encoding'")]) from None
    return Source(text, path)


def read_source(path: str | os.PathLike[str]) -> Source:
    shown = display_path(path)
    named = Source("", shown)  # no text to point into, but the diagnostic still names the file
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PolicyError([Diagnostic("source.not_found", f"no such file: {shown}", named, None,
                                      help="check the path; policy files end in .policy")]) from None
    except IsADirectoryError:
        raise PolicyError([Diagnostic("source.unreadable", f"{shown} is a folder, not a policy file", named, None,
                                      help="name a .policy file")]) from None
    except OSError as err:
        raise PolicyError([Diagnostic("source.unreadable", f"cannot read {shown}: {err.strerror or err}", named,
                                      None, help="check that the file exists and that you may read it")]) from None
    return decode(data, shown)


def check_source(source: Source) -> CheckResult:
    parsed = parse(source)
    diags = list(parsed.diagnostics)
    if parsed.policy is not None:
        diags.extend(check(parsed.policy, source))
    return CheckResult(source.path, source, parsed.policy, sort_diagnostics(diags))


def check_text(text: str, path: str = "<string>") -> CheckResult:
    return check_source(Source(text, path))


def check_file(path: str | os.PathLike[str]) -> CheckResult:
    """Never raises for a bad file: unreadable or undecodable input is a diagnostic too."""
    try:
        source = read_source(path)
    except PolicyError as err:
        return CheckResult(display_path(path), None, None, err.diagnostics)
    return check_source(source)


def policy_files(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; folders searched for *.policy. Raises FileNotFoundError naming a missing path."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*" + POLICY_SUFFIX) if q.is_file()))
        elif p.exists():
            found.append(p)
        else:
            raise FileNotFoundError(str(raw))
    return found


def parse_policy(path: str | os.PathLike[str]) -> tuple[Source, ast.Policy]:
    """Read and check; raise PolicyError on any error. Warnings are not errors."""
    result = check_file(path)
    if not result.ok or result.policy is None or result.source is None:
        raise PolicyError([d for d in result.diagnostics if d.is_error])
    return result.source, result.policy


# ---- load: read, check, compile (the decision engine) -------------------------------------


def _digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _compile(source: Source, digest: str) -> "Policy":
    import gc

    from policy_engine.engine.compiler import compile_policy
    from policy_engine.engine.policy import Policy

    # Parsing and compiling allocate hundreds of thousands of long-lived objects and almost no
    # cyclic garbage: the cycle collector would rescan the growing heap again and again.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = check_source(source)
        if not result.ok or result.policy is None:
            raise PolicyError([d for d in result.diagnostics if d.is_error])
        return Policy(compile_policy(result.policy, source), digest)
    finally:
        if was_enabled:
            gc.enable()


def load(path: str | os.PathLike[str]) -> "Policy":
    """Read, check and compile a policy file. Raises PolicyError carrying the diagnostics."""
    shown = display_path(path)
    try:
        data = Path(path).read_bytes()
    except OSError:
        read_source(path)  # raises the PolicyError that names the problem
        raise
    return _compile(decode(data, shown), _digest(data))


def loads(text: str, path: str = "<string>") -> "Policy":
    """Check and compile policy text; `path` is the name reasons and errors show."""
    return _compile(Source(text[1:] if text.startswith("\ufeff") else text, path), _digest(text.encode("utf-8")))


from policy_engine.engine.policy import Policy  # noqa: E402  (after the front end: the import order is the pipeline's)
from policy_engine.engine.query import Decision, Query, QueryError, parse_json  # noqa: E402

