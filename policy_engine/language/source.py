"""Policy text and positions in it. In: bytes or str. Out: Source, Span.

Offsets are what the parser and checker store; lines and columns are derived here,
once, so every error in the project points at the same place the same way.
Stdlib only: every other module may import this one.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Span:
    """Half-open character range [start, end) in a Source's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Source:
    """A policy's text with the name it is shown under (a path relative to the cwd where possible)."""

    text: str
    path: str = "<string>"
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count characters."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of 1-based line `line`, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return (self.text[start:] if end < 0 else self.text[start:end]).rstrip("\r")

    def snippet(self, span: Span) -> str:
        """The source line of `span` with carets under it, as compilers print them."""
        line, col = self.position(span.start)
        end_line, end_col = self.position(span.end)
        text = self.line_text(line)
        width = (end_col - col) if end_line == line else (len(text) - col + 1)
        width = max(1, width)
        gutter = f"{line:>4} | "
        pad = "".join("\t" if ch == "\t" else " " for ch in text[: col - 1])
        return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {pad}{'^' * width}"


def display_path(path: str | os.PathLike[str]) -> str:
    """The path relative to the working directory when it lies below it, else as given."""
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)
