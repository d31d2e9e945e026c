"""Diagnostics: what went wrong, where, and how to fix it. Text and JSON rendering.

Codes are stable (`source.*`, `parse.*`, `check.*`, `query.*`); tests match codes and
positions, never wording. Every stage collects Diagnostics instead of raising; the one
exception type callers see is PolicyError, which carries them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable

from policy_engine.language.source import Source, Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    source: Source | None = None
    span: Span | None = None
    help: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def file(self) -> str | None:
        return self.source.path if self.source else None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def _positions(self) -> tuple[int, int, int, int] | None:
        if self.source is None or self.span is None:
            return None
        line, col = self.source.position(self.span.start)
        end_line, end_col = self.source.position(self.span.end)
        return line, col, end_line, end_col

    @property
    def line(self) -> int | None:
        pos = self._positions()
        return pos[0] if pos else None

    @property
    def column(self) -> int | None:
        pos = self._positions()
        return pos[1] if pos else None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file or "", self.span.start if self.span else -1, self.span.end if self.span else -1, self.code)

    def render(self) -> str:
        """`file:line:col: severity: code: message`, the source line with a caret, then `help:`."""
        pos = self._positions()
        where = self.file or "<input>"
        if pos:
            where = f"{where}:{pos[0]}:{pos[1]}"
        out = [f"{where}: {self.severity.value}: {self.code}: {self.message}"]
        if pos and self.source is not None and self.span is not None:
            out.append(self.source.snippet(self.span))
        if self.help:
            out.append(f"  help: {self.help}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        pos = self._positions()
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": pos[0] if pos else None,
            "column": pos[1] if pos else None,
            "end_line": pos[2] if pos else None,
            "end_column": pos[3] if pos else None,
            "help": self.help,
        }


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """By file and position; de-duplicated, since two passes may see the same fault."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in sorted(diags, key=Diagnostic.sort_key):
        key = (d.sort_key(), d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def render_text(diags: Iterable[Diagnostic]) -> str:
    return "\n\n".join(d.render() for d in diags)


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_dict() for d in diags], indent=2)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diags)


class PolicyError(Exception):
    """The project's one error type: raised by the façade when diagnostics include errors."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sort_diagnostics(diagnostics)
        super().__init__(render_text(self.diagnostics))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def code(self) -> str:
        return self.first.code if self.diagnostics else "error"
