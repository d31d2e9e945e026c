"""Error recovery: every syntax error of a file, not only the first. In: Source. Out: a Lark
tree (None when the text has errors) and the syntax errors in position order.

Lark's LALR parser calls `on_error` with an interactive parser at each error. After putting
the error into words, the parser resynchronises at the next statement: it skips to the next
line that starts with a statement keyword (`allow`, `section`, `data`, ...) and pops its stack
until that keyword (or the end of the file) can follow, so one mistake yields one error.
"""

from __future__ import annotations

from copy import copy

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import LineCounter

from policy_engine.language.diagnostics import Diagnostic, sort_diagnostics
from policy_engine.language.grammar import lark_parser
from policy_engine.language.source import Source
from policy_engine.language.statements import line_start_keyword, misread_keyword, opener_index
from policy_engine.language.syntax_errors import syntax_error

# A file this broken is reported in part: each later error costs a scan and a parser copy.
MAX_SYNTAX_ERRORS = 200

# Tokens a writer often forgets, supplied when what follows then fits.
_INSERTABLE = (("COLON", ":"), ("RPAR", ")"))


def parse_tree(source: Source) -> tuple[Tree | None, list[Diagnostic]]:
    errors: list[Diagnostic] = []

    def on_error(err: UnexpectedInput) -> bool:
        errors.append(syntax_error(source, err))
        return len(errors) < MAX_SYNTAX_ERRORS and _resynchronise(source, err)

    try:
        tree = lark_parser().parse(source.text, on_error=on_error)
    except UnexpectedInput as err:
        if not errors:  # pragma: no cover - Lark calls on_error for every error it raises
            errors.append(syntax_error(source, err))
        return None, sort_diagnostics(errors)
    return (None if errors else tree), sort_diagnostics(errors)


def _resynchronise(source: Source, err: UnexpectedInput) -> bool:
    """Move the parser to the next statement it can read; False when there is none."""
    parser = err.interactive_parser
    if parser is None:  # pragma: no cover - Lark always attaches one to LALR errors
        return False
    text = source.text
    if isinstance(err, UnexpectedToken) and _insert_missing(parser.parser_state, err.token):
        _move_lexer(source, parser, err.token.start_pos if err.token.type != "$END" else len(text))
        return True
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream + 1
    elif isinstance(err, UnexpectedToken) and err.token.type != "$END":
        pos = err.token.start_pos if err.token.start_pos is not None else len(text)
    else:
        pos = len(text)
    misread = misread_keyword(list(parser.parser_state.value_stack), text)
    if misread is not None:  # the next statement's keyword, read as a term: start again at it
        pos = misread.start_pos  # type: ignore[attr-defined]
    _leave_statement(parser.parser_state)
    while True:
        found = _next_statement(text, pos)
        if found is None:
            if _pop_until_accepted(parser.parser_state, Token("$END", "")):
                _move_lexer(source, parser, len(text))
                return True
            return False
        at, kind, word = found
        if _pop_until_accepted(parser.parser_state, Token(kind, word)):
            _move_lexer(source, parser, at)
            return True
        pos = at + 1


def _insert_missing(state, token: Token) -> bool:  # type: ignore[no-untyped-def]
    """A forgotten `:` or `)` is supplied, when the token that came instead then fits: the
    statements after `section "Heading"` (no colon) are still read and checked."""
    for missing, value in _INSERTABLE:
        trial = state.copy(deepcopy_values=False)
        try:
            trial.feed_token(Token(missing, value))
            _fits(trial, token)
        except UnexpectedInput:
            continue
        state.feed_token(Token(missing, value))
        return True
    return False


def _fits(state, token: Token) -> None:  # type: ignore[no-untyped-def]
    """Raises UnexpectedInput unless `token` can be fed next (tried on a copy, no callbacks)."""
    conf = copy(state.parse_conf)
    conf.callbacks = {}
    trial = state.copy(deepcopy_values=False)
    trial.parse_conf = conf
    trial.feed_token(token, token.type == "$END")


def _next_statement(text: str, pos: int) -> tuple[int, str, str] | None:
    """The first statement keyword at or after `pos` that begins a line (after indentation):
    its offset, its terminal's name and the word."""
    search = text.rfind("\n", 0, pos) + 1
    while True:
        found = line_start_keyword().search(text, search)
        if found is None:
            return None
        kind = found.lastgroup or ""
        if found.start(kind) >= pos:
            return found.start(kind), kind, found.group(kind)
        search = found.end()


def _leave_statement(state) -> None:  # type: ignore[no-untyped-def]
    """Drop the broken statement from the stack, so the next keyword starts a statement of its
    own: otherwise `deny` on the line after a broken `expect` would be read as that
    expectation's `deny:` and give a second, misleading error."""
    at = opener_index(list(state.value_stack))
    while at is not None and len(state.value_stack) > at and len(state.state_stack) > 1:
        state.state_stack.pop()
        state.value_stack.pop()


def _pop_until_accepted(state, token: Token) -> bool:  # type: ignore[no-untyped-def]
    """Pop the parser's stack until `token` can be fed (tried on a copy, without callbacks)."""
    while True:
        try:
            _fits(state, token)
            return True
        except UnexpectedInput:
            pass
        if len(state.state_stack) <= 1:
            return False
        state.state_stack.pop()
        state.value_stack.pop()


def _move_lexer(source: Source, parser, offset: int) -> None:  # type: ignore[no-untyped-def]
    line, column = source.position(offset)
    counter = LineCounter("\n")
    counter.char_pos, counter.line, counter.column = offset, line, column
    counter.line_start_pos = offset - column + 1
    parser.lexer_thread.state.line_ctr = counter
