"""The document model the writers share: a list of blocks of inline runs.

A document is built once (render.document) and written out by each writer (Markdown, or HTML
through a Jinja2 template): the model says *what* is shown (a heading, a rule in words, a
quote of the published text, an encoder's remark, a link to a line of the policy), the
writers say how. Keeping the model free of markup is what lets a firm bring its own template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

# An inline run: plain text, or (style, text). Styles:
#   code / strong / em   as in Markdown
#   line                 a line of the policy (text: its number), a link to the source view
#   quote                words quoted from the published text
Inline = Union[str, tuple[str, str]]
STYLES = ("code", "strong", "em", "line", "quote")


def code(text: str) -> Inline:
    return ("code", text)


def strong(text: str) -> Inline:
    return ("strong", text)


def em(text: str) -> Inline:
    return ("em", text)


def line_ref(number: int) -> Inline:
    return ("line", str(number))


def lines_ref(numbers: list[int]) -> list[Inline]:
    """`line 12`, `lines 12, 15 and 18`: each number a link to the source view."""
    out: list[Inline] = ["line " if len(numbers) == 1 else "lines "]
    for i, n in enumerate(numbers):
        if i:
            out.append(" and " if i == len(numbers) - 1 else ", ")
        out.append(line_ref(n))
    return out


def plain(parts: list[Inline]) -> str:
    """The runs' text without styles (a heading's words for its anchor, the page title)."""
    return "".join(p if isinstance(p, str) else (f"line {p[1]}" if p[0] == "line" else p[1]) for p in parts)


@dataclass
class Heading:
    level: int
    text: list[Inline]
    anchor: str | None = None
    kind: str = "heading"


@dataclass
class Para:
    text: list[Inline]
    css: str | None = None
    kind: str = "para"


@dataclass
class Bullets:
    items: list[list[Inline]]
    kind: str = "bullets"


@dataclass
class NoteBlock:
    """An encoder's note. `parts` are its runs in order: ("quote", text) for words quoted from
    the published text, plain text for the encoder's own words, so a writer can style them
    apart; `items`, the runs of each item when the note goes on as a list. `not_encodable`
    marks a note saying why the quoted text cannot be a rule; `line` is the note's line."""

    parts: list[Inline]
    not_encodable: bool = False
    line: int | None = None
    items: list[list[Inline]] = field(default_factory=list)  # a list the note goes on with ("- “...”")
    kind: str = "note"


@dataclass
class Table:
    header: list[str]
    rows: list[list[list[Inline]]]
    row_css: list[str | None] = field(default_factory=list)
    kind: str = "table"

    def css_of(self, row: int) -> str | None:
        return self.row_css[row] if row < len(self.row_css) else None


Block = Union[Heading, Para, Bullets, NoteBlock, Table]


@dataclass
class Document:
    """What the writers and templates receive: `title`, the `blocks`, a table of contents
    (level, text, anchor) of the level 2 and 3 headings, and the policy's lines for the source
    view (`source_lines`, numbered from 1; `source_path` names the file)."""

    title: str
    blocks: list[Block]
    source_path: str
    source_lines: list[str]

    @property
    def toc(self) -> list[tuple[int, str, str]]:
        return [(b.level, plain(b.text), b.anchor or "") for b in self.blocks
                if isinstance(b, Heading) and b.level in (2, 3) and b.anchor]

    @property
    def contents(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """The table of contents, nested: (text, anchor, [(text, anchor) of its subheadings])."""
        out: list[tuple[str, str, list[tuple[str, str]]]] = []
        for level, text, anchor in self.toc:
            if level == 2 or not out:
                out.append((text, anchor, []))
            else:
                out[-1][2].append((text, anchor))
        return out
