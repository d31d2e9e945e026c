"""Text -> Lark tree -> AST. In: Source. Out: ParseResult(ast.PolicyFile | None, diagnostics).

Lark's errors become Diagnostics phrased for the people who write policies: terminals are
named in words (never `__ANON_3`), and a table of common mistakes adds a `help:` line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field

import lark
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from policy_engine.language import ast
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.grammar import lark_parser
from policy_engine.language.source import Source, Span


@dataclass(frozen=True)
class Comment:
    """A `# ...` comment; kept beside the AST (not in it) so fmt can put it back."""

    span: Span
    text: str


@dataclass
class ParseResult:
    source: Source
    policy: ast.PolicyFile | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def comments(self) -> list[Comment]:
        return scan_comments(self.source.text)


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


def parse(source: Source) -> ParseResult:
    """Never raises for any text: a syntax error is returned as a diagnostic."""
    try:
        tree = lark_parser().parse(source.text)
    except UnexpectedInput as err:
        return ParseResult(source, None, [syntax_error(source, err)])
    except RecursionError:
        return ParseResult(source, None, [_too_deep(source, Span(0, 0))])
    builder = _AstBuilder(source)
    try:
        policy = builder.policy(tree)
    except _TooDeep as deep:
        return ParseResult(source, None, [_too_deep(source, deep.span)])
    except RecursionError:
        return ParseResult(source, None, [_too_deep(source, Span(0, 0))])
    return ParseResult(source, policy, builder.diagnostics)


# Deeper conditions are refused: every later stage (checker, engine, printer) recurses on them.
MAX_CONDITION_DEPTH = 256


class _TooDeep(Exception):
    def __init__(self, span: Span | None):
        self.span = span


def _too_deep(source: Source, span: Span | None) -> Diagnostic:
    return Diagnostic("parse.too_deep", f"this condition is nested more than {MAX_CONDITION_DEPTH} levels deep",
                      source, span or Span(0, 0),
                      help="split the condition; a policy condition rarely needs more than a few parentheses")


def parse_text(text: str, path: str = "<string>") -> ParseResult:
    return parse(Source(text, path))


# ---- syntax errors in words ---------------------------------------------------------

STATEMENT_STARTS = {"EFFECT", "EXPECT", "SECTION", "TERM_KIND", "RIGHT", "RETENTION", "SECURITY", "NEVER", "EVERY",
                    "NO"}
CLAUSE_KEYWORDS = ("of", "from", "for", "with", "to", "if", "basis")
STATEMENT_KEYWORDS = ("policy", "data", "source", "purpose", "recipient", "fact", "section", "allow", "deny",
                      "expect", "right", "retention", "security", "never", "every", "no")

_TERMINAL_WORDS = {
    "TERM_ID": "a term name (like `email`)",
    "STRING": 'a text in double quotes (like "E-mail address")',
    "DATE": "a date (like 2018-05-25)",
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


def _terminal_word(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for term in lark_parser().terminals:
        if term.name == name and isinstance(term.pattern, PatternStr):
            return f"`{term.pattern.value}`"
    return name.lower()


def _expected_words(expected: set[str]) -> str:
    names = set(expected)
    words: list[str] = []
    if len(names & STATEMENT_STARTS) >= 3:
        names -= STATEMENT_STARTS
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
        return f"the text {token.value}"
    if token.type in ("TERM_ID",):
        return f"word `{token.value}`"
    return f"`{token.value}`"


def syntax_error(source: Source, err: UnexpectedInput) -> Diagnostic:
    text = source.text
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
        allowed = getattr(err, "allowed", None) or set()
        msg = f"unexpected character `{ch}`" if ch.strip() else "unexpected character"
        if allowed:
            msg += f": expected {_expected_words(set(allowed))}"
        return Diagnostic("parse.unexpected_character", msg, source, span, help=help_)

    if isinstance(err, UnexpectedEOF):
        token = Token("$END", "")
        expected = set(err.expected)
    elif isinstance(err, UnexpectedToken) and err.token.type == "$END":
        token = err.token
        expected = _truly_acceptable(err)
    else:
        assert isinstance(err, UnexpectedToken)
        token = err.token
        expected = _truly_acceptable(err)

    if token.type == "$END":
        end = _end_of_content(text)
        span = Span(max(0, end - 1), max(end, 1) if text else 0)
        return Diagnostic("parse.unexpected_end", f"the file ends too early: expected {_expected_words(expected)}",
                          source, span, help=_end_help(expected))

    start = token.start_pos if token.start_pos is not None else 0
    end = token.end_pos if token.end_pos is not None else start + len(token.value)
    span = Span(start, end)
    msg = f"unexpected {_token_words(token)}: expected {_expected_words(expected)}"
    return Diagnostic("parse.unexpected_token", msg, source, span, help=_mistake_help(token, expected))


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


def _mistake_help(token: Token, expected: set[str]) -> str | None:
    """The table of common mistakes: what each looks like to the parser, and what to say."""
    value = token.value
    if "COLON" in expected and token.type != "COLON":
        return 'put a colon after the heading: section "Marketing":'
    if token.type == "EFFECT" and not expected & {"EFFECT"}:
        return 'rules belong to a section: write section "Heading of the published text": above them'
    if token.type == "EXPECT" and "EXPECT" not in expected:
        return 'expectations belong to a section, beside the rules they protect'
    if token.type in ("RIGHT", "RETENTION", "SECURITY") and token.type not in expected:
        return f'`{value}` statements belong to a section: write section "Heading": above them'
    if value in CLAUSE_KEYWORDS and expected & {"FROM", "FOR", "WITH", "TO", "IF", "BASIS"}:
        return _RULE_ORDER
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


# ---- Lark tree -> AST -------------------------------------------------------------


def _token_span(tok: Token) -> Span | None:
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


# The keyword each construct starts with. Lark drops anonymous keywords from the tree, so a
# node's span is taken from its first and last kept tokens and widened back over this word.
# (Lark's propagate_positions would do the same but costs ~45% of parse time on large policies.)
_LEADING_KEYWORD = {
    "header": "policy", "controller": "controller", "contact": "contact", "updated": "updated",
    "section": "section", "expectation": "expect", "right": "right", "retention": r"retention(?:\s|#[^\n]*)+of",
    "security": "security", "source_clause": "from", "purpose_clause": "for", "recipient_clause": "with|to",
    "condition_clause": "if", "basis_clause": "basis", "given_clause": "given", "requires_clause": "requires",
    "without_clause": "without", "except_clause": "except", "unless_clause": "unless",
}
_KEYWORD_BEFORE = {k: re.compile(rf"\b(?:{v})(?:\s|#[^\n]*)*\Z") for k, v in _LEADING_KEYWORD.items()}


def _span(node: Tree | Token, text: str | None = None) -> Span | None:
    if isinstance(node, Token):
        return _token_span(node)
    first, last = _first_token(node), _last_token(node)
    if first is None or last is None or first.start_pos is None:
        return None
    start = first.start_pos
    end = last.end_pos if last.end_pos is not None else last.start_pos + len(last)
    if text is not None:
        pattern = _KEYWORD_BEFORE.get(node.data)
        window = text[max(0, start - 64):start]
        found = pattern.search(window) if pattern is not None else None
        if found is not None:
            start -= len(window) - found.start()
        start, end = _balance_parens(text, start, end)
    return Span(start, end)


_NOT_CODE = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')  # strings and comments: their parens are text
_GAP_THEN_PAREN = re.compile(r"(?:\s|#[^\n]*)*([()])")


def _paren_depth(text: str, start: int, end: int) -> int:
    code = _NOT_CODE.sub("", text[start:end])
    return code.count("(") - code.count(")")


def _balance_parens(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a condition's span over the parentheses of its own production, so that
    `not a and (b or c)` includes its closing `)`; term ids and keywords never hold parens, and
    parens inside strings and comments do not count."""
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


def unescape(literal: str) -> str:
    body = literal[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            i += 1
            ch = body[i]
        out.append(ch)
        i += 1
    return "".join(out)


class _AstBuilder:
    """Walks the Lark tree; reports the few faults only visible after parsing (a bad date)."""

    def __init__(self, source: Source):
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def policy(self, tree: Tree) -> ast.PolicyFile:
        meta = None
        terms: list[ast.TermDecl] = []
        sections: list[ast.Section] = []
        for child in tree.children:
            if child.data == "header":
                meta = self.header(child)
            elif child.data == "term_decl":
                terms.append(self.term_decl(child))
            elif child.data == "section":
                sections.append(self.section(child))
        return ast.PolicyFile(meta=meta, terms=tuple(terms), sections=tuple(sections), span=Span(0, len(self.source.text)))

    def header(self, tree: Tree) -> ast.Metadata:
        name_tok, *metas = tree.children
        fields: dict[str, object] = {}
        for m in metas:
            key = m.data
            tok = m.children[0]
            if key in fields:
                self.diagnostics.append(Diagnostic(
                    "parse.duplicate_metadata", f"`{key}` is given twice in the policy header", self.source,
                    _span(m, self.source.text), help=f"keep one `{key}` line"))
                continue
            if key == "updated":
                fields[key] = self.date(tok)
            else:
                fields[key] = unescape(tok)
        return ast.Metadata(name=unescape(name_tok), span=_span(tree, self.source.text), **fields)  # type: ignore[arg-type]

    def date(self, tok: Token) -> dt.date | None:
        try:
            return dt.date.fromisoformat(str(tok))
        except ValueError:
            self.diagnostics.append(Diagnostic(
                "parse.invalid_date", f"`{tok}` is not a date in the calendar", self.source, _span(tok),
                help="write dates as YYYY-MM-DD, like 2018-05-25"))
            return None

    def term_decl(self, tree: Tree) -> ast.TermDecl:
        kind, term_id, label = tree.children
        return ast.TermDecl(kind=str(kind), id=str(term_id), label=unescape(label), span=_span(tree, self.source.text),
                            id_span=_span(term_id))

    def section(self, tree: Tree) -> ast.Section:
        title, *items = tree.children
        built = [self.item(i) for i in items]
        return ast.Section(title=unescape(title), items=tuple(b for b in built if b is not None), span=_span(tree, self.source.text),
                           title_span=_span(title))

    def item(self, tree: Tree) -> ast.SectionItem | None:
        return getattr(self, "item_" + tree.data)(tree)

    def term_refs(self, tree: Tree) -> tuple[ast.TermRef, ...]:
        return tuple(ast.TermRef(id=str(t), span=_span(t)) for t in tree.children)

    def data_spec(self, tree: Tree) -> tuple[ast.TermRef, ...] | None:
        (child,) = tree.children
        if isinstance(child, Token):  # ALL_DATA
            return None
        return self.term_refs(child)

    def clauses(self, children: list) -> dict[str, object]:
        out: dict[str, object] = {}
        for c in children:
            if not isinstance(c, Tree):
                continue
            if c.data == "source_clause":
                out["sources"] = self.term_refs(c.children[0])
            elif c.data == "purpose_clause":
                out["purposes"] = self.term_refs(c.children[0])
            elif c.data == "recipient_clause":
                out["recipients"] = self.term_refs(c.children[0])
            elif c.data == "condition_clause":
                out["condition"] = self.condition(c.children[0])
            elif c.data == "basis_clause":
                out["basis"] = ast.TermRef(id=str(c.children[0]), span=_span(c.children[0]))
            elif c.data == "given_clause":
                (g,) = c.children
                out["facts"] = () if isinstance(g, Token) else self.term_refs(g)
        return out

    def item_rule(self, tree: Tree) -> ast.Rule:
        effect, action, data, *rest = tree.children
        return ast.Rule(effect=str(effect), action=str(action), data=self.data_spec(data), span=_span(tree, self.source.text),
                        **self.clauses(rest))  # type: ignore[arg-type]

    def condition(self, tree: Tree | Token, depth: int = 0) -> ast.Condition:
        if depth > MAX_CONDITION_DEPTH:
            raise _TooDeep(_span(tree, self.source.text))
        if tree.data == "fact_ref":
            tok = tree.children[0]
            return ast.FactRef(name=str(tok), span=_span(tok))
        if tree.data == "negation":
            return ast.Not(operand=self.condition(tree.children[1], depth + 1), span=_span(tree, self.source.text))
        cls = ast.And if tree.data == "and_cond" else ast.Or
        operands: list[ast.Condition] = []
        for child in tree.children:
            if isinstance(child, Token):
                continue
            built = self.condition(child, depth + 1)
            operands.extend(built.operands if isinstance(built, cls) else [built])
        return cls(operands=tuple(operands), span=_span(tree, self.source.text))

    def item_expectation(self, tree: Tree) -> ast.Expectation:
        decision, query, *rest = tree.children
        requires = self.condition(rest[0].children[0]) if rest else None
        if requires is not None and str(decision) != "conditional":
            self.diagnostics.append(Diagnostic(
                "parse.requires_without_conditional", f"`requires` only follows `expect conditional`, not "
                f"`expect {decision}`", self.source, _span(rest[0], self.source.text),
                help="write `expect conditional: ... requires CONDITION`, or drop `requires`"))
            requires = None
        return ast.Expectation(decision=str(decision), query=self.query(query), requires=requires, span=_span(tree, self.source.text))

    def query(self, tree: Tree) -> ast.Query:
        action, data, *rest = tree.children
        clauses = self.clauses(rest)
        single: dict[str, ast.TermRef] = {}
        for plural, dim in (("sources", "source"), ("purposes", "purpose"), ("recipients", "recipient")):
            refs = clauses.pop(plural, ())
            if len(refs) > 1:  # type: ignore[arg-type]
                extra = refs[1]  # type: ignore[index]
                self.diagnostics.append(Diagnostic(
                    "parse.one_term_per_question", f"a question names one {dim}, this one names {len(refs)}",  # type: ignore[arg-type]
                    self.source, Span(extra.span.start, refs[-1].span.end) if extra.span else None,  # type: ignore[index]
                    help=f"write one expectation per {dim}"))
            if refs:
                single[dim] = refs[0]  # type: ignore[index]
        return ast.Query(action=str(action), data=ast.TermRef(id=str(data), span=_span(data)), span=_span(tree, self.source.text),
                         facts=clauses.get("facts"), **single)  # type: ignore[arg-type]

    def item_right(self, tree: Tree) -> ast.Right:
        name, *channels = tree.children
        return ast.Right(right=ast.TermRef(id=str(name), span=_span(name)),
                         channels=tuple(unescape(c) for c in channels), span=_span(tree, self.source.text))

    def item_retention(self, tree: Tree) -> ast.Retention:
        data, period = tree.children
        return ast.Retention(data=self.data_spec(data), period=unescape(period), span=_span(tree, self.source.text))

    def item_security(self, tree: Tree) -> ast.Security:
        return ast.Security(measures=tuple(unescape(c) for c in tree.children), span=_span(tree, self.source.text))

    def item_invariant(self, tree: Tree) -> ast.Invariant:
        form, action, *rest = tree.children
        fields: dict[str, object] = {}
        for c in rest:
            if c.data == "data_spec":
                fields["data"] = self.data_spec(c)
            elif c.data == "without_clause":
                fields["without"] = ast.TermRef(id=str(c.children[0]), span=_span(c.children[0]))
            elif c.data == "except_clause":
                fields["exceptions"] = self.term_refs(c.children[0])
            elif c.data == "unless_clause":
                fields["unless"] = self.condition(c.children[0])
        fields.update(self.clauses(rest))
        return ast.Invariant(form=str(form), action=str(action), span=_span(tree, self.source.text), **fields)  # type: ignore[arg-type]
