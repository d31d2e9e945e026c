"""Span recovery: where each AST node's text begins and ends. In: tokens' offsets. Out: Span.

Lark drops anonymous keywords from the tree, so a node's span is taken from its first and
last kept tokens, widened back over the keyword the construct starts with and over the
parentheses of its own production. (Lark's propagate_positions would do the same but costs
~45% of parse time on large policies.) Both the tree path and the fast path call
`node_span`, so their spans agree by construction.
"""

from __future__ import annotations

import re

from lark import Token, Tree

from policy_engine.language.source import Span

# The keyword each construct starts with (only constructs whose first kept token is not it).
_LEADING_KEYWORD = {
    "header": "policy", "controller": "controller", "contact": "contact", "updated": "updated",
    "section": "section", "expectation": "expect", "right": "right", "retention": r"retention(?:\s|#[^\n]*)+of",
    "security": "security", "source_clause": "from", "purpose_clause": "for", "recipient_clause": "with|to",
    "condition_clause": "if", "basis_clause": "basis", "given_clause": "given", "requires_clause": "requires",
    "without_clause": "without", "except_clause": "except", "unless_clause": "unless",
    "implies_clause": "implies", "right_except": "except", "changes": r"changes(?:\s|#[^\n]*)+notice",
    "audience": "audience", "within_limit": "within", "after_limit": "after", "lasting_clause": "for",
    "collected_clause": "collected",
}
_KEYWORD_BEFORE = {k: re.compile(rf"\b(?:{v})(?:\s|#[^\n]*)*\Z") for k, v in _LEADING_KEYWORD.items()}

_NOT_CODE = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')  # strings and comments: their parens are text
_GAP_THEN_PAREN = re.compile(r"(?:\s|#[^\n]*)*([()])")


def token_span(tok: Token) -> Span | None:
    if tok.start_pos is None:
        return None
    return Span(tok.start_pos, tok.end_pos if tok.end_pos is not None else tok.start_pos + len(tok))


def _first_token(tree: Tree) -> Token | None:
    for child in tree.children:
        tok = child if isinstance(child, Token) else _first_token(child)
        if tok is not None:
            return tok
    return None


def _last_token(tree: Tree) -> Token | None:
    for child in reversed(tree.children):
        tok = child if isinstance(child, Token) else _last_token(child)
        if tok is not None:
            return tok
    return None


def tree_span(node: Tree | Token, text: str | None = None) -> Span | None:
    """The span of a Lark tree node (or token); with `text`, widened as `node_span` says."""
    if isinstance(node, Token):
        return token_span(node)
    first, last = _first_token(node), _last_token(node)
    if first is None or last is None or first.start_pos is None:
        return None
    start = first.start_pos
    end = last.end_pos if last.end_pos is not None else last.start_pos + len(last)
    if text is None:
        return Span(start, end)
    return node_span(node.data, start, end, text)


def node_span(kind: str, start: int, end: int, text: str) -> Span:
    """From the first kept token's start and the last kept token's end of a `kind` node."""
    pattern = _KEYWORD_BEFORE.get(kind)
    if pattern is not None:
        window = text[max(0, start - 64):start]
        found = pattern.search(window)
        if found is not None:
            start -= len(window) - found.start()
    return Span(*balance_parens(text, start, end))


def _paren_depth(text: str, start: int, end: int) -> int:
    code = _NOT_CODE.sub("", text[start:end])
    return code.count("(") - code.count(")")


def balance_parens(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a condition's span over the parentheses of its own production, so that
    `not a and (b or c)` includes its closing `)`; term ids and keywords never hold parens, and
    parens inside strings and comments do not count."""
    piece = text[start:end]
    if "(" not in piece and ")" not in piece:  # the common case, and the answer is known
        return start, end
    depth = _paren_depth(text, start, end)
    while depth > 0:
        found = _GAP_THEN_PAREN.match(text, end)
        if found is None or found.group(1) != ")":
            break
        end, depth = found.end(), depth - 1
    while depth < 0:
        opening = _open_paren_before(text, start)
        if opening is None:
            break
        start, depth = opening, depth + 1
    return start, end


def _open_paren_before(text: str, pos: int) -> int | None:
    """The offset of the `(` just before `pos`, across blanks and comments; None if another
    character comes first. Line by line, so a big file is never rescanned from its start."""
    while True:
        line_start = text.rfind("\n", 0, pos) + 1
        code = _NOT_CODE.sub(lambda m: " " * len(m.group()), text[line_start:pos]).rstrip()
        if code:
            return line_start + len(code) - 1 if code.endswith("(") else None
        if line_start == 0:
            return None
        pos = line_start - 1
