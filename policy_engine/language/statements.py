"""The keywords that open a statement, read off the grammar itself (not a hand-kept list).

Error recovery resynchronises at the next line that opens a statement, and syntax errors
say "expected a new statement" instead of listing every keyword; both need the set of tokens
that can begin a statement. A list kept by hand went stale each time the grammar grew a
statement (`audience`, `changes`, `effective`, ...): the parser then named its internal
terminals (`note_word`) in messages and skipped the new statements while recovering.
Here the set is what Lark's parser accepts after a section heading (where every statement
and every declaration may follow), and the words are each terminal's own pattern.
"""

from __future__ import annotations

import functools
import re

from lark.lexer import PatternStr

from policy_engine.language.grammar import lark_parser

_ALTERNATIVES = re.compile(r"^\(?([a-z_|]+)\)?\\b\(\?!\\\.\)$")


@functools.cache
def statement_starts() -> frozenset[str]:
    """Terminal names that can open a statement or a declaration (plus `policy`, the header)."""
    parser = lark_parser().parse_interactive('section "x":\n')
    parser.exhaust_lexer()
    return frozenset(parser.accepts() - {"$END"}) | {"POLICY"}


def keyword_words(name: str) -> tuple[str, ...]:
    """The words a keyword terminal matches: `EFFECT` -> (`allow`, `deny`); () for others."""
    for term in lark_parser().terminals:
        if term.name != name:
            continue
        if isinstance(term.pattern, PatternStr):
            return (term.pattern.value,)
        found = _ALTERNATIVES.match(term.pattern.value)
        return tuple(found.group(1).split("|")) if found else ()
    return ()


@functools.cache
def line_start_keyword() -> re.Pattern[str]:
    """A statement keyword at the start of a line (after indentation); the group named after
    the terminal says which one (`m.lastgroup`)."""
    parts = []
    for name in sorted(statement_starts()):
        words = keyword_words(name)
        if words:
            parts.append(f"(?P<{name}>" + "|".join(re.escape(w) for w in words) + ")")
    return re.compile(r"^[ \t]*(?:" + "|".join(parts) + r")\b(?!\.)", re.MULTILINE)


def opener_index(stack: list[object]) -> int | None:
    """Where, on a parser's value stack, the statement being read begins: the index of its
    opening keyword (an expectation's `allow`/`deny` belongs to its `expect`), or None."""
    from lark import Token

    starts = statement_starts()
    for i in range(len(stack) - 1, -1, -1):
        value = stack[i]
        if not isinstance(value, Token) or value.type not in starts:
            continue
        below = stack[i - 1] if i > 0 else None
        if value.type == "EFFECT" and isinstance(below, Token) and below.type == "EXPECT":
            continue
        return i
    return None


def misread_keyword(stack: list[object], text: str) -> object | None:
    """The statement keyword the parser took for a term name, if the statement being read ends
    in one at the start of a line: after `allow use of email for` the next line's `allow` fits
    where a purpose is expected, so the parser reads it as one and stops only at `use`. Returns
    that token (a Lark Token typed TERM_ID) or None."""
    from lark import Token

    at = opener_index(stack)
    tokens = [v for v in stack[at or 0:] if isinstance(v, Token)]
    if len(tokens) < 2 or tokens[-1].type != "TERM_ID" or tokens[-1].start_pos is None:
        return None
    last = tokens[-1]
    line_start = text.rfind("\n", 0, last.start_pos) + 1
    found = line_start_keyword().match(text, line_start)
    if found is None or found.start(found.lastgroup or 0) != last.start_pos:
        return None
    return last
