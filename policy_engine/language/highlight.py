"""Policy text -> Pygments tokens. In: str. Out: (token type, text) pairs.

Registered as the Pygments lexer `policy` (entry point `pygments.lexers`), so a fenced code
block tagged `policy` is highlighted in the docs and anywhere else Pygments runs.

The grammar's keywords are contextual (`contact` is a header keyword and the Open-E source
`contact`), so the lexer follows the statement shapes of `grammar/policy.lark`: statement
keywords count only at the start of a line, and a word in a term list or a condition is a
name whatever it spells. Keywords the grammar gains later and this module does not know yet
are still shown as keywords (read from the grammar), never as errors.
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, default, include, words
from pygments.token import (Comment, Keyword, Literal, Name, Number, Operator, Punctuation, String, Text,
                            Whitespace)

from policy_engine.language import ast

__all__ = ["PolicyLexer"]

TERM_ID = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
# a word boundary that also treats `.` as part of a word, so `source.x` is one id
END = r"(?![\w.])"
START = r"(?<![\w.])"

TERM_KINDS = ast.TERM_KINDS
EFFECTS = ("allow", "deny")
ACTIONS = ast.ACTIONS
# an action or a declared sub-action of one: `share`, `share.sell`
ACTION = r"(?:" + "|".join(ACTIONS) + r")(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
INVARIANT_WORDS = ("never", "every", "no")
HEADER_KEYWORDS = ("policy", "controller", "contact", "updated")
STATEMENT_KEYWORDS = ("section", "right", "retention", "security")
TERM_CLAUSES = ("from", "for", "with", "to", "in")  # `in region.us`: a transfer's destination
CONDITION_CLAUSES = ("if", "requires", "unless")
OPERATORS = ("and", "or", "not")
KNOWN = set(TERM_KINDS + EFFECTS + ACTIONS + HEADER_KEYWORDS + STATEMENT_KEYWORDS + TERM_CLAUSES
            + CONDITION_CLAUSES + OPERATORS + INVARIANT_WORDS
            + ("of", "expect", "conditional", "given", "nothing", "basis", "via", "all", "has", "without", "except",
               "under"))


def grammar_keywords() -> list[str]:
    """Every keyword of grammar/policy.lark: its literal words and the words of its keyword patterns."""
    from policy_engine.language.grammar import grammar_text

    text = "\n".join(line.split("//", 1)[0] for line in grammar_text().splitlines())
    found = set(re.findall(r'"([a-z][a-z_]*)"', text))
    for alternatives in re.findall(r"/\(?([a-z][a-z|]*)\)?\\b(?:\(\?!\\\.\))?/", text):
        found.update(alternatives.split("|"))
    for phrase in re.findall(r"/([a-z]+)\\s\+([a-z]+)\\b(?:\(\?!\\\.\))?/", text):
        found.update(phrase)
    return sorted(found)


def _later_keywords() -> tuple[str, ...]:
    try:
        return tuple(w for w in grammar_keywords() if w not in KNOWN)
    except OSError:  # pragma: no cover - no grammar to read: the known keywords still work
        return ()


LATER = _later_keywords()
STATEMENT_STARTS = (TERM_KINDS + EFFECTS + INVARIANT_WORDS + HEADER_KEYWORDS + STATEMENT_KEYWORDS
                    + ("expect",) + LATER)


def _line_start(keywords: tuple[str, ...]) -> str:
    return r"^([ \t]*)(" + "|".join(keywords) + r")" + END


class PolicyLexer(RegexLexer):
    """Lexer for privacy policies written in policy-engine's language (`*.policy`)."""

    name = "Policy"
    aliases = ["policy"]
    filenames = ["*.policy"]
    mimetypes = ["text/x-policy"]
    url = "https://github.com/"
    flags = re.MULTILINE

    tokens = {
        # inside a statement: a line break ends it when the next line starts a statement
        "blank": [
            (r"[ \t]+", Whitespace),
            (r"\n(?![ \t]*(?:" + "|".join(STATEMENT_STARTS) + ")" + END + ")", Whitespace),
            (r"#[^\n]*", Comment.Single),
        ],
        # where a term must follow (after `from`, or a comma) every line break is layout
        "any_blank": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
        ],
        "string": [
            (r'"', String.Double, "string_body"),
        ],
        "string_body": [
            (r'\\.', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
            (r"\n", Text, "#pop"),  # an unterminated text ends at the line's end
        ],
        "root": [
            # declarations: `data cookie.essential "Essential cookies"`
            (r"^([ \t]*)(" + "|".join(TERM_KINDS) + r")(\s+)(" + TERM_ID + ")",
             bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Class)),
            # rules: `allow use of email ...`
            (r"^([ \t]*)(allow|deny)" + END + r"(\s*)(" + ACTION + r")" + END,
             bygroups(Whitespace, Keyword.Reserved, Whitespace, Name.Builtin), "data"),
            # expectations: `expect deny: use of email ...`
            (r"^([ \t]*)(expect)" + END + r"(\s*)(allow|deny|conditional)" + END + r"(\s*)(:)(\s*)("
             + ACTION + r")" + END,
             bygroups(Whitespace, Keyword, Whitespace, Keyword.Reserved, Whitespace, Punctuation, Whitespace,
                      Name.Builtin), "question"),
            # invariants: `never use of email from forum for marketing`, `no use for marketing without consent`
            (r"^([ \t]*)(" + "|".join(INVARIANT_WORDS) + ")" + END + r"(\s*)(" + ACTION + r")" + END,
             bygroups(Whitespace, Keyword.Reserved, Whitespace, Name.Builtin), "scope"),
            (r"^([ \t]*)(right)(\s+)(" + TERM_ID + ")", bygroups(Whitespace, Keyword, Whitespace, Name.Builtin)),
            (r"^([ \t]*)(retention)" + END, bygroups(Whitespace, Keyword), "data"),
            (_line_start(HEADER_KEYWORDS + ("section", "security")), bygroups(Whitespace, Keyword)),
            (r"\n", Whitespace),  # one at a time, so the next line's start is seen by the rules above
            (r"[ \t]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            include("string"),
            (r"\d{4}-\d{2}-\d{2}", Literal.Date),
            (r"\d+", Number.Integer),  # durations and limits: `within 45 days`, `at most 2 per 12 months`
            # clauses that continue a rule, often on the following lines
            (words(TERM_CLAUSES, prefix=START, suffix=END), Keyword, "terms"),
            (words(CONDITION_CLAUSES, prefix=START, suffix=END), Keyword, "condition"),
            (START + r"(basis)(\s+)(" + TERM_ID + ")", bygroups(Keyword, Whitespace, Name.Builtin)),
            # a transfer's safeguard: `under standard_contractual_clauses`; a promise's `except under a, b`
            (START + r"(except)(\s+)(under)" + END, bygroups(Keyword, Whitespace, Keyword), "terms"),
            (START + r"(under)(\s+)(" + TERM_ID + ")", bygroups(Keyword, Whitespace, Name.Builtin)),
            (START + r"(via|has)" + END, Keyword),
            (START + r"(without)(\s+)(" + TERM_ID + ")", bygroups(Keyword, Whitespace, Name.Builtin)),
            (START + r"except" + END, Keyword, "terms"),
            *([(words(LATER, prefix=START, suffix=END), Keyword)] if LATER else []),
            (START + ACTION + END, Name.Builtin),
            (words(OPERATORS, prefix=START, suffix=END), Operator.Word),
            (TERM_ID, Name),
            (r"[:,]", Punctuation),
            (r"[()]", Punctuation),
            (r".", Text),
        ],
        # after an action: `of` (optional), then `all data` or a list of data terms
        "data": [
            include("blank"),
            (START + r"of" + END, Keyword),
            (START + r"all\s+data" + END, Name.Constant, "#pop"),
            default(("#pop", "terms")),
        ],
        # an invariant's scope: the data list is optional, so a clause word ends it
        "scope": [
            include("blank"),
            (START + r"of" + END, Keyword),
            (START + r"all\s+data" + END, Name.Constant, "#pop"),
            (START + r"(?!(?:from|for|with|to|in|has|without|except|unless)" + END + ")" + TERM_ID, Name,
             ("#pop", "terms_more")),
            default("#pop"),
        ],
        # a question in an expectation: like a rule, plus `given`
        "question": [
            include("blank"),
            (START + r"of" + END, Keyword),
            (TERM_ID, Name, ("#pop", "question_clauses")),
            default("#pop"),
        ],
        "question_clauses": [
            include("blank"),
            (words(TERM_CLAUSES, prefix=START, suffix=END), Keyword, "terms"),
            (START + r"(given)(\s+)(nothing)" + END, bygroups(Keyword, Whitespace, Name.Constant), "#pop"),
            (START + r"given" + END, Keyword, ("#pop", "terms")),
            (START + r"requires" + END, Keyword, ("#pop", "condition")),
            default("#pop"),
        ],
        # `email, name, postal_address`: every word here is a term, whatever it spells
        "terms": [
            include("any_blank"),
            (TERM_ID, Name, ("#pop", "terms_more")),
            default("#pop"),
        ],
        "terms_more": [
            (r"[ \t]+", Whitespace),
            (r",", Punctuation, ("#pop", "terms")),
            default("#pop"),
        ],
        # `newsletter_form or not (a and b)`
        "condition": [
            include("blank"),
            (words(OPERATORS, prefix=START, suffix=END), Operator.Word),
            (r"[()]", Punctuation),
            # a time limit as a condition: `account_closed less than 30 days ago`
            (START + r"(less)(\s+)(than)" + END, bygroups(Keyword, Whitespace, Keyword)),
            (r"\d+", Number.Integer),
            (words(("days", "day", "weeks", "week", "months", "month", "years", "year", "ago"), prefix=START,
                   suffix=END), Keyword),
            # a clause word ends the condition; the root state reads it
            (START + r"(?!(?:basis|from|for|with|to|in|under|via)" + END + ")" + TERM_ID, Name.Variable),
            default("#pop"),
        ],
    }
