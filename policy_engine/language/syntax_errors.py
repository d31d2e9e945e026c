"""Syntax errors in words. In: a Lark UnexpectedInput. Out: a Diagnostic with a `help:` line.

Terminals are named in words (never `__ANON_3`), and a table of common mistakes adds the fix.
The statement being written when the parser stopped (read off the parser's stack) picks the
hint, so a rule, a question and a retention statement each get their own.
"""

from __future__ import annotations

import difflib

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from policy_engine.language import ast
from policy_engine.language.comments import scan_comments
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.grammar import lark_parser
from policy_engine.language.source import Source, Span
from policy_engine.language.statements import keyword_words, misread_keyword, opener_index, statement_starts

CLAUSE_KEYWORDS = ("of", "from", "for", "with", "to", "if", "basis")
STATEMENT_KEYWORDS = ("policy", "data", "source", "purpose", "recipient", "fact", "section", "allow", "deny",
                      "expect", "right", "retention", "security", "never", "every", "no")

_TERMINAL_WORDS = {
    "TERM_ID": "a term name (like `email`)",
    "STRING": 'a text in double quotes (like "E-mail address")',
    "DATE": "a date (like 2018-05-25)",
    "INT": "a number (like 30)",
    "SUB_ACTION": "a sub-action (like `share.sell`)",
    "EFFECT": "`allow` or `deny`",
    "ACTION": "an action (`collect`, `use`, `share` or `retain`)",
    "TERM_KIND": "a declaration (`data`, `source`, `purpose`, `recipient` or `fact`)",
    "ALL_DATA": "`all data`",
    "NOT": "`not`",
    "CONDITIONAL": "`conditional`",
    "NOTHING": "`nothing`",
    "NEVER": "`never`",
    "EVERY": "`every`",
    "NO": "`no`",
    "$END": "the end of the file",
}

_RULE_ORDER = "a rule's clauses come in this order: `of DATA`, `from SOURCE`, `for PURPOSE`, " \
              "`with RECIPIENT`, `if CONDITION`, `basis BASIS`"
_QUESTION_ORDER = "a question's clauses come in this order: `of DATA`, `from SOURCE`, `for PURPOSE`, " \
                  "`with RECIPIENT`, `given FACTS`, then `requires CONDITION` after `expect conditional`"
_RETENTION_FORM = 'a retention statement reads `retention of DATA: "period"`, like `retention of email: "90 days"`'



def _terminal_word(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for term in lark_parser().terminals:
        if term.name == name and isinstance(term.pattern, PatternStr):
            return f"`{term.pattern.value}`"
    words = keyword_words(name)
    if words:
        return ", ".join(f"`{w}`" for w in words[:-1]) + (" or " if len(words) > 1 else "") + f"`{words[-1]}`"
    return name.lower()


def _expected_words(expected: set[str]) -> str:
    names = set(expected)
    words: list[str] = []
    if len(names & statement_starts()) >= 3:
        names -= statement_starts()
        names.discard("$END")
        words.append("a new statement (a declaration, `section`, `allow`, `deny`, `expect`, `never`, `every`, "
                      "`no`, `right`, `retention` or `security`)")
    words = sorted({_terminal_word(n) for n in names}) + words
    if not words:
        return "nothing more here"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _token_words(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "STRING":
        return f"text {token.value}"
    if token.type in ("TERM_ID",):
        return f"word `{token.value}`"
    return f"`{token.value}`"


class _Context:
    """The statement the parser was inside when it stopped: its opening token's type
    (`EXPECT` for an expectation, whose `allow`/`deny` is not a rule's), and the tokens of
    that statement read so far."""

    def __init__(self, err: UnexpectedInput):
        self.opener: str | None = None
        self.tokens: list[Token] = []
        parser = getattr(err, "interactive_parser", None)
        stack = list(getattr(getattr(parser, "parser_state", None), "value_stack", None) or [])
        at = opener_index(stack)
        if at is not None:
            self.opener = stack[at].type
            self.tokens = [v for v in stack[at:] if isinstance(v, Token)]

    def in_given(self) -> bool:
        """Inside an expectation's `given` list (only term names and commas since `given`)."""
        if self.opener != "EXPECT":
            return False
        for tok in reversed(self.tokens):
            if tok.type == "GIVEN":
                return True
            if tok.type not in ("TERM_ID", "COMMA"):
                return False
        return False


def syntax_error(source: Source, err: UnexpectedInput) -> Diagnostic:
    text = source.text
    context = _Context(err)
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        span = Span(pos, pos + 1)
        if ch == '"':
            end = text.find("\n", pos)
            span = Span(pos, len(text) if end < 0 else end)
            return Diagnostic("parse.unterminated_string", "this text has no closing double quote", source, span,
                              help='close the text on the same line: "like this"')
        help_ = None
        if ch in "'\u2018\u2019\u201c\u201d":
            help_ = 'write texts between plain double quotes: "like this"'
        elif ch == ";":
            help_ = "statements need no `;`: start each statement on its own line"
        elif ch in "&|!":
            help_ = "write conditions with the words `and`, `or` and `not`"
        elif not ch.isascii():
            help_ = "term names use plain letters, digits, `_` and `.`; put other text in double quotes"
        elif context.opener == "RETENTION":
            help_ = _RETENTION_FORM
        allowed = getattr(err, "allowed", None) or set()
        msg = f"unexpected character `{ch}`" if ch.strip() else "unexpected character"
        if allowed:
            msg += f": expected {_expected_words(set(allowed))}"
        return Diagnostic("parse.unexpected_character", msg, source, span, help=help_)

    if isinstance(err, UnexpectedEOF):
        token = Token("$END", "")
        expected = set(err.expected)
    else:
        assert isinstance(err, UnexpectedToken)
        token = err.token
        expected = _truly_acceptable(err)

    if token.type == "$END":
        end = _end_of_content(text)
        span = Span(max(0, end - 1), max(end, 1) if text else 0)
        return Diagnostic("parse.unexpected_end", f"the file ends too early: expected {_expected_words(expected)}",
                          source, span, help=_end_help(expected))

    unfinished = _unfinished(source, err, context)
    if unfinished is not None:
        return unfinished
    start = token.start_pos if token.start_pos is not None else 0
    end = token.end_pos if token.end_pos is not None else start + len(token.value)
    span = Span(start, end)
    msg = f"unexpected {_token_words(token)}: expected {_expected_words(expected)}"
    return Diagnostic("parse.unexpected_token", msg, source, span, help=_mistake_help(token, expected, context))


def _unfinished(source: Source, err: UnexpectedInput, context: _Context) -> Diagnostic | None:
    """A statement left unfinished at the end of its line, whose next line's keyword the parser
    read as the missing term (`for` / `allow use ...`): the error is the unfinished statement's,
    so it points at its last word, not at the word after the keyword."""
    parser = getattr(err, "interactive_parser", None)
    stack = list(getattr(getattr(parser, "parser_state", None), "value_stack", None) or [])
    keyword = misread_keyword(stack, source.text)
    if keyword is None or len(context.tokens) < 2:
        return None
    before = context.tokens[-2]
    assert isinstance(keyword, Token) and before.start_pos is not None
    end = before.end_pos if before.end_pos is not None else before.start_pos + len(before.value)
    missing = "a fact" if before.type in ("IF", "AND", "OR", "NOT", "AUDIENCE", "GIVEN", "REQUIRES", "UNLESS") \
        else "a term"
    return Diagnostic("parse.unfinished_statement", f"this statement is unfinished: {missing} is missing after "
                      f"`{before.value}`", source, Span(before.start_pos, end),
                      help=f"finish it on this line, or remove `{before.value}`; `{keyword.value}` on the next "
                      "line starts a statement of its own")


def _end_of_content(text: str) -> int:
    """Offset just past the last character that is neither layout nor inside a comment."""
    end = len(text)
    comments = scan_comments(text)
    while True:
        stripped = len(text[:end].rstrip())
        if comments and comments[-1].span.end >= stripped and comments[-1].span.start < stripped:
            end = comments.pop().span.start
            continue
        return stripped


def _truly_acceptable(err: UnexpectedToken) -> set[str]:
    """LALR merges states, so Lark's `expected` can list tokens that would fail one step later;
    simulating each candidate on the interactive parser keeps only those that really fit."""
    try:
        if err.interactive_parser is not None:
            accepted = set(err.interactive_parser.accepts())
            if accepted:
                return accepted
    except Exception:  # pragma: no cover - best effort; fall back to Lark's own set
        pass
    return set(err.expected)


def _end_help(expected: set[str]) -> str | None:
    if "STRING" in expected:
        return "finish the statement with its text in double quotes"
    if expected & {"TERM_ID", "NOT", "LPAR"}:
        return "finish the statement: a term or fact name is missing"
    if "RPAR" in expected:
        return "a `(` is never closed: add the matching `)`"
    return None


def _given_help(token: Token, context: _Context) -> str | None:
    """`given` lists the facts that hold; everything else is false, so `not` and `and` are wrong."""
    last = context.tokens[-1] if context.tokens else None
    if token.type == "TERM_ID" and last is not None and last.type == "TERM_ID" and last.value == "not":
        return (f"`given` lists the facts that hold (a closed world: every fact not listed is false), so `not` "
                f"has no place there: leave out `not {token.value}`, or write `given nothing` when no fact holds")
    if token.type in ("AND", "OR"):
        return "`given` lists the facts that hold, separated by commas: `given newsletter_form, account`"
    return None


def _mistake_help(token: Token, expected: set[str], context: _Context) -> str | None:
    """The table of common mistakes: what each looks like to the parser, and what to say."""
    value = token.value
    if context.opener == "RETENTION" and context.tokens[-1].type != "STRING":
        return _RETENTION_FORM
    if context.in_given():
        given = _given_help(token, context)
        if given is not None:
            return given
    if context.opener == "EXPECT" and "CONDITIONAL" in expected:
        return ("an expectation starts with the answer it expects, then the question, then the facts: "
                "`expect allow: use of email for marketing given consent`")
    if "COLON" in expected and token.type != "COLON" and context.opener == "EXPECT":
        return "put a colon after the expected answer: `expect allow: use of email ...`"
    if "COLON" in expected and token.type != "COLON":
        return 'put a colon after the heading: section "Marketing":'
    if token.type == "EFFECT" and not expected & {"EFFECT"}:
        return 'rules belong to a section: write section "Heading of the published text": above them'
    if token.type == "EXPECT" and "EXPECT" not in expected:
        return 'expectations belong to a section, beside the rules they protect'
    if token.type in ("RIGHT", "RETENTION", "SECURITY") and token.type not in expected:
        return f'`{value}` statements belong to a section: write section "Heading": above them'
    if value in (*CLAUSE_KEYWORDS, "given") and context.opener == "EXPECT":
        return _QUESTION_ORDER
    if value in CLAUSE_KEYWORDS and (context.opener == "EFFECT"
                                     or expected & {"FROM", "FOR", "WITH", "TO", "IF", "BASIS"}):
        return _RULE_ORDER
    twice = context.tokens[-2:] if len(context.tokens) >= 2 else []
    if token.type == "TERM_ID" and twice and twice[-1].type == "TERM_ID" and twice[-1].value == twice[0].value \
            and twice[0].value in CLAUSE_KEYWORDS:
        return f"`{twice[0].value}` is written twice: write `{twice[0].value} {token.value}`"
    if "COMMA" in expected and token.type == "TERM_ID":
        return "separate several terms with commas: `email, name`"
    if token.type == "TERM_ID" and "CONDITIONAL" in expected:
        return "an expectation reads `expect allow: ...`, `expect deny: ...` or `expect conditional: ...`"
    if token.type == "TERM_ID" and expected & {"AND", "OR"}:
        return "join facts with `and` or `or`, like `newsletter_form or notification_settings`"
    if token.type == "TERM_ID" and expected & {"SECTION", "TERM_KIND", "EFFECT"}:
        close = difflib.get_close_matches(value.lower(), STATEMENT_KEYWORDS, n=1, cutoff=0.6)
        if close:
            return f"did you mean `{close[0]}`?"
        return "each statement starts with a keyword: `data`, `section`, `allow`, `deny`, `expect`, ..."
    if token.type == "TERM_ID" and "ACTION" in expected:
        close = difflib.get_close_matches(value.lower(), ast.ACTIONS, n=1, cutoff=0.5)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return hint + "the actions are `collect`, `use`, `share` and `retain`"
    if token.type in ("OR", "AND") or value in ("and", "or"):
        return "`and` and `or` join two facts: write a fact name on both sides"
    if token.type == "DATE" or "DATE" in expected:
        return "write dates as YYYY-MM-DD, like 2018-05-25"
    return None
