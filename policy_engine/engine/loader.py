"""The one way a policy gets loaded. In: bytes, text or a path. Out: a Policy (or a PolicyError
carrying the diagnostics). Read -> decode -> parse -> check -> compile, with one digest recipe.

The digest is sha256 over the bytes of the policy text as stored (a file's bytes as read, a
string's UTF-8 encoding), so `serve`, `test`, `diff` and a caller of `loads` name the same file the
same way, byte-order mark or not. Reading never raises anything but PolicyError, whose
diagnostics name the file and what to do.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from policy_engine.engine.compiler import compile_policy
from policy_engine.engine.policy import Policy
from policy_engine.language import ast
from policy_engine.language.checker import check
from policy_engine.language.diagnostics import Diagnostic, PolicyError, has_errors, sort_diagnostics
from policy_engine.language.parser import parse
from policy_engine.language.source import Source, Span, display_path

POLICY_SUFFIX = ".policy"
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class CheckResult:
    """One file's outcome. `policy` (the AST) is set whenever the file parsed, even with check errors;
    `digest` whenever its bytes could be read."""

    path: str
    source: Source | None
    policy: ast.PolicyFile | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decode(data: bytes, path: str) -> Source:
    """Bytes -> Source; invalid UTF-8 raises PolicyError pointing at the first bad byte."""
    if data.startswith(BOM):  # a byte-order mark is not part of the text
        data = data[len(BOM):]
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


def read_bytes(path: str | os.PathLike[str], reader: Callable[[Path], bytes] = Path.read_bytes,
               missing_help: str = "check the path; policy files end in .policy") -> bytes:
    """The file's bytes (by `reader`: the server's reload reads only once a file is stable);
    PolicyError (source.not_found / source.unreadable) naming it otherwise."""
    shown = display_path(path)
    named = Source("", shown)  # no text to point into, but the diagnostic still names the file
    try:
        return reader(Path(path))
    except FileNotFoundError:
        raise PolicyError([Diagnostic("source.not_found", f"no such file: {shown}", named, None,
                                      help=missing_help)]) from None
    except IsADirectoryError:
        raise PolicyError([Diagnostic("source.unreadable", f"{shown} is a folder, not a policy file", named, None,
                                      help="name a .policy file")]) from None
    except OSError as err:
        raise PolicyError([Diagnostic("source.unreadable", f"cannot read {shown}: {err.strerror or err}", named,
                                      None, help="check that the file exists and that you may read it")]) from None


def read_source(path: str | os.PathLike[str]) -> Source:
    return decode(read_bytes(path), display_path(path))


def check_source(source: Source, digest: str | None = None) -> CheckResult:
    with _no_cycle_collection():
        parsed = parse(source)
        diags = list(parsed.diagnostics)
        if parsed.policy is not None:
            diags.extend(check(parsed.policy, source))
    return CheckResult(source.path, source, parsed.policy, sort_diagnostics(diags), digest)


def check_bytes(data: bytes, path: str) -> CheckResult:
    """Never raises: undecodable input is a diagnostic too."""
    try:
        source = decode(data, path)
    except PolicyError as err:
        return CheckResult(path, None, None, err.diagnostics, digest_of(data))
    return check_source(source, digest_of(data))


def check_file(path: str | os.PathLike[str]) -> CheckResult:
    """Never raises for a bad file: unreadable or undecodable input is a diagnostic too."""
    try:
        data = read_bytes(path)
    except PolicyError as err:
        return CheckResult(display_path(path), None, None, err.diagnostics)
    return check_bytes(data, display_path(path))


def compile_checked(result: CheckResult) -> Policy:
    """A checked file -> Policy; raises PolicyError with the errors when it did not check."""
    if not result.ok or result.policy is None or result.source is None or result.digest is None:
        raise PolicyError(result.errors)
    return Policy(compile_policy(result.policy, result.source), result.digest, tuple(result.warnings))


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsing and compiling allocate hundreds of thousands of long-lived objects and almost no
    cyclic garbage: the cycle collector would rescan the growing heap again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_bytes(data: bytes, path: str = "<string>") -> Policy:
    """Decode, check and compile; raises PolicyError carrying the diagnostics."""
    with _no_cycle_collection():
        return compile_checked(check_bytes(data, path))


def load_path(path: str | os.PathLike[str]) -> Policy:
    """Read, check and compile a policy file. Raises PolicyError carrying the diagnostics."""
    return load_bytes(read_bytes(path), display_path(path))


def load_text(text: str, path: str = "<string>") -> Policy:
    """Check and compile policy text; `path` is the name reasons and errors show."""
    return load_bytes(text.encode("utf-8"), path)


def load_source(source: Source) -> Policy:
    return load_text(source.text, source.path)


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
