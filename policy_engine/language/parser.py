"""Text -> AST. In: Source. Out: ParseResult(ast.PolicyFile | None, diagnostics).

Two paths read the same language and give the same AST. The fast path (fast_parse.py) reads
well-formed text in one pass; when it declines (any doubt, any error, any fault the tree path
reports), the tree path parses with Lark's own lexer (recovery.py: every syntax error, in
words, each with its fix) and builds the AST from the tree (ast_builder.py).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from policy_engine.language import ast
from policy_engine.language.ast_builder import MAX_CONDITION_DEPTH, AstBuilder, TooDeep, unescape
from policy_engine.language.comments import Comment, scan_comments
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.fast_parse import Decline, parse_fast
from policy_engine.language.recovery import parse_tree
from policy_engine.language.source import Source, Span
from policy_engine.language.syntax_errors import syntax_error

__all__ = ["MAX_CONDITION_DEPTH", "Comment", "ParseResult", "parse", "parse_reference", "parse_text",
           "scan_comments", "syntax_error", "unescape"]


@dataclass
class ParseResult:
    source: Source
    policy: ast.PolicyFile | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def comments(self) -> list[Comment]:
        return scan_comments(self.source.text)


def parse(source: Source) -> ParseResult:
    """Never raises for any text: a syntax error is returned as a diagnostic.

    The cycle collector is paused meanwhile: parsing allocates hundreds of thousands of
    long-lived nodes and no cycles, and each collection would rescan the growing heap (on a
    10 MB policy that was most of the parse time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return ParseResult(source, parse_fast(source), [])
        except (Decline, RecursionError):
            return parse_reference(source)
    finally:
        if was_enabled:
            gc.enable()


def parse_reference(source: Source) -> ParseResult:
    """The tree path alone: Lark's lexer and parser, then the tree walked into the AST."""
    try:
        tree, errors = parse_tree(source)
    except RecursionError:
        return ParseResult(source, None, [_too_deep(source, Span(0, 0))])
    if tree is None:
        return ParseResult(source, None, errors)
    builder = AstBuilder(source)
    try:
        policy = builder.policy(tree)
    except TooDeep as deep:
        return ParseResult(source, None, [_too_deep(source, deep.span)])
    except RecursionError:
        return ParseResult(source, None, [_too_deep(source, Span(0, 0))])
    return ParseResult(source, policy, builder.diagnostics)


def _too_deep(source: Source, span: Span | None) -> Diagnostic:
    return Diagnostic("parse.too_deep", f"this condition is nested more than {MAX_CONDITION_DEPTH} levels deep",
                      source, span or Span(0, 0),
                      help="split the condition; a policy condition rarely needs more than a few parentheses")


def parse_text(text: str, path: str = "<string>") -> ParseResult:
    return parse(Source(text, path))
