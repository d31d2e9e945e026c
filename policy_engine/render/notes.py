"""The encoder's notes: the `#` comment paragraphs of a policy, placed in their sections, and
each split into what it quotes of the published text and what the encoder says about it.

A note is a line `# text` and its continuation lines `#   more` (indented after the `#`);
rulers such as `# ---- data ----` are not notes. A note in `# not encodable ...` form says
why the text it quotes cannot be a rule.

Quotes are found with one rule a reader can apply by eye: a straight quote preceded by the
start, a space, `(`, `-` or another quote opens; any other one closes; an opener inside a quote
nests (`"click the "unsubscribe" link"` is one quote). Curly quotes say which they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policy_engine.language import ast
from policy_engine.language.parser import scan_comments
from policy_engine.language.source import Source


@dataclass
class Note:
    section: ast.Section | None  # None: above the first section
    start: int  # offset in the policy text
    line: int
    text: str

    @property
    def not_encodable(self) -> bool:
        return self.text.lower().startswith("not encodable")


def notes(policy: ast.PolicyFile, source: Source) -> list[Note]:
    starts = [(s.span.start if s.span else 0, s) for s in policy.sections]
    out: list[Note] = []
    last_line = -2
    for comment in scan_comments(source.text):
        line, column = source.position(comment.span.start)
        body = comment.text[1:]
        stripped = body.strip()
        code_before = source.line_text(line)[: column - 1].strip()
        continues = (out and line == last_line + 1 and not code_before and body.startswith("  ")
                     and stripped)
        last_line = line
        if continues:
            out[-1].text += " " + stripped
            continue
        if not stripped or set(stripped) <= set("-=*# "):  # a ruler such as `# ---- data ----`
            continue
        if re.fullmatch(r"-+ *[\w ]+ *-+", stripped):
            continue
        section = None
        for start, s in starts:
            if start <= comment.span.start:
                section = s
        out.append(Note(section, comment.span.start, line, stripped))
    return out


_OPENS_AFTER = " \t(-\"“"


def split_quotes(text: str) -> list[tuple[bool, str]]:
    """The note as runs (quoted?, text), in order: the passages it quotes of the published text
    (without their quote marks) and the encoder's own words between them. An unclosed quote
    runs to the end of the note."""
    runs: list[tuple[bool, str]] = []
    depth = 0
    start = outside = 0
    for i, ch in enumerate(text):
        if ch not in "\"“”":
            continue
        opener = ch == "“" or (ch == '"' and (i == 0 or text[i - 1] in _OPENS_AFTER) and
                               not (depth and i + 1 < len(text) and text[i + 1] in " ,.;:)"))
        if opener:
            if depth == 0:
                runs.append((False, text[outside:i]))
                start = i + 1
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                runs.append((True, text[start:i]))
                outside = i + 1
    if depth:
        runs.append((True, text[start:]))
    else:
        runs.append((False, text[outside:]))
    return [(q, " ".join(t.split()) if q else t) for q, t in runs if t.strip()]
