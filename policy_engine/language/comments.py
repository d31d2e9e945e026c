"""Comments beside the AST. In: policy text. Out: the `# ...` comments with their spans.

The lexer drops comments; fmt and render put them back, so they are found by a scan of their
own (cheap, and independent of whether the text parses).
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_engine.language.source import Span


@dataclass(frozen=True)
class Comment:
    """A `# ...` comment; kept beside the AST (not in it) so fmt can put it back."""

    span: Span
    text: str


def scan_comments(text: str) -> list[Comment]:
    """Only texts in double quotes and comments can hold `#`, so a scan that skips
    quoted texts finds exactly the comments the lexer ignored."""
    out: list[Comment] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(Comment(Span(i, end), text[i:end].rstrip("\r")))
            i = end
        else:
            i += 1
    return out
