"""The fast path: well-formed text -> AST in one pass. In: Source. Out: ast.PolicyFile, or Decline.

Lark's contextual lexer and LALR parser cost ~1 s per 10,000 rules, most of a policy's load.
Here one regular expression splits the text and a recursive-descent reader follows
grammar/policy.lark production by production, building AST nodes as it goes. It never
decides anything the tree path would decide otherwise: it reads the language's common case
and declines the rest. Any error, any doubt (a character outside the lexemes below, a keyword
where a term name stands, as in `fact not "..."`, which Lark's contextual lexer reads as a
term) and any fault the tree path reports (a bad date, a header field twice, two terms in
one question, `requires` after `expect allow`, a condition nested too deep) raises Decline;
parser.py then runs the tree path, whose answer is the reference. Spans come from
`spans.node_span` with the same first and last kept tokens the Lark tree has, so they agree
by construction; tests/properties/test_fast_parse.py checks both paths agree on random and
mutated policies.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import lark

from policy_engine.language import ast
from policy_engine.language.ast_builder import MAX_CONDITION_DEPTH
from policy_engine.language.fast_parse_items import Decline, ItemReader, _text
from policy_engine.language.source import Source, Span
from policy_engine.language.spans import node_span

# Layout (Lark's WS and COMMENT), then one lexeme: a word (TERM_ID's shape), a text (STRING),
# a date (DATE), a number (INT), punctuation, or the end of the text. A character none of them matches leaves
# a gap (the next match starts after it): Decline.
_LEXEME = re.compile(r'(?:[ \t\f\r\n]|#[^\n]*)*+(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)'
                     r'|(?P<STRING>"(?:\\.|[^"\\\n])*")|(?P<DATE>\d{4}-\d{2}-\d{2})|(?P<INT>\d+(?![\d-]))|(?P<punct>[:,()])'
                     r'|(?P<end>\Z))')
_ALL_DATA = re.compile(r"all\s+data\b(?!\.)")
_SUB_ACTION = re.compile(r"(?:collect|use|share|retain)(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


@functools.cache
def _keyword_types() -> dict[str, str]:
    """Each keyword and punctuation -> its terminal: the grammar's strings (`of` -> OF,
    `:` -> COLON) and its `(a|b)\\b(?!\\.)` terminals (`allow` -> EFFECT), read from the grammar."""
    from policy_engine.language.grammar import lark_parser

    out: dict[str, str] = {}
    for term in lark_parser().terminals:
        pattern = term.pattern
        if isinstance(pattern, lark.lexer.PatternStr):
            out[pattern.value] = term.name
        elif term.priority > 0 and term.name not in ("ALL_DATA", "SUB_ACTION"):  # SUB_ACTION: declined
            found = re.fullmatch(r"\(?([a-z|]+)\)?\\b\(\?!\\\.\)", pattern.value)
            if found is None:  # pragma: no cover - the grammar's keyword terminals all have this shape
                raise RuntimeError(f"fast_parse cannot read terminal {term.name}: {pattern.value}")
            out.update((word, term.name) for word in found.group(1).split("|"))
    return out


def tokens(text: str) -> list[tuple[str, str, int, int]]:
    """(terminal, text, start, end) of every token; Decline where a character fits no lexeme."""
    kinds = _keyword_types()
    out = []
    append = out.append
    pos = 0
    for m in _LEXEME.finditer(text):
        if m.start() != pos:
            raise Decline(pos)
        pos = m.end()
        group = m.lastgroup
        start = m.start(group)  # type: ignore[arg-type]
        value = text[start:pos]
        if group == "end":
            return out
        if group == "word":
            append((kinds.get(value, "TERM_ID"), value, start, pos))
        elif group == "punct":
            append((kinds[value], value, start, pos))
        else:
            append((group, value, start, pos))  # type: ignore[arg-type]
    raise Decline(pos)  # the text ends inside a gap




_END = ("$END", "", -1, -1)
_CLAUSES = (("FROM", "sources"), ("FOR", "purposes"))
_SINGULAR = {"sources": "source", "purposes": "purpose", "recipients": "recipient", "destinations": "destination"}


class _Reader(ItemReader):
    """One method per production of grammar/policy.lark. `last` is always the end offset of
    the last kept (named) token read, which is where the Lark tree's node would end."""

    def __init__(self, source: Source):
        self.text = source.text
        self.toks = tokens(self.text)
        self.toks.append(_END)
        self.i = 0
        self.last = 0

    # ---- tokens
    def peek(self) -> str:
        return self.toks[self.i][0]

    def take(self, kind: str) -> tuple[str, str, int, int]:
        tok = self.toks[self.i]
        if tok[0] != kind:
            raise Decline(tok[2])
        self.i += 1
        return tok

    def kept(self, kind: str) -> tuple[str, str, int, int]:
        tok = self.take(kind)
        self.last = tok[3]
        return tok

    def skip(self, kind: str) -> bool:
        if self.toks[self.i][0] == kind:
            self.i += 1
            return True
        return False

    def name(self) -> tuple[str, str, int, int]:
        """A term name. Where the grammar takes a TERM_ID, Lark's contextual lexer reads any
        word as one unless the state also takes that keyword (`of`, `nothing`, `not`, `all
        data`), and the callers read those first: so `source contact` names a source `contact`."""
        tok = self.toks[self.i]
        if tok[0] != "TERM_ID" and not (tok[1][:1].isalpha() or tok[1][:1] == "_"):
            raise Decline(tok[2])
        self.i += 1
        self.last = tok[3]
        return tok

    def action(self) -> tuple[str, str, int, int]:
        """An action, or a sub-action (`share.sell`: a word the lexer leaves as TERM_ID, which
        Lark's contextual lexer reads as SUB_ACTION where an action stands)."""
        tok = self.toks[self.i]
        if tok[0] == "TERM_ID" and _SUB_ACTION.fullmatch(tok[1]):
            self.i += 1
            self.last = tok[3]
            return tok
        return self.kept("ACTION")

    def of(self) -> None:
        """`of`, optional before the data. Without it, Lark's lexer reads a keyword word (`data`,
        `source`, `section`...) as that keyword even where a term name is expected (the state
        after an action is shared with invariants, which any statement may follow), so
        `allow use data for p` is an error there: leave such a text to the tree path."""
        if not self.skip("OF") and self.peek() != "TERM_ID":
            raise Decline(self.toks[self.i][2])

    def span(self, kind: str, start: int) -> Span:
        return node_span(kind, start, self.last, self.text)

    # ---- policy
    def policy(self) -> ast.PolicyFile:
        meta = self.header() if self.peek() == "POLICY" else None
        terms: list[ast.TermDecl] = []
        sections: list[ast.Section] = []
        while True:
            kind = self.peek()
            if kind == "TERM_KIND":
                terms.append(self.term_decl())
            elif kind == "SECTION":
                sections.append(self.section())
            elif kind == "$END":
                return ast.PolicyFile(meta=meta, terms=tuple(terms), sections=tuple(sections),
                                  span=Span(0, len(self.text)))
            else:
                raise Decline(self.toks[self.i][2])

    def header(self) -> ast.Metadata:
        self.take("POLICY")
        name = self.kept("STRING")
        fields: dict[str, object] = {}
        while self.peek() in ("CONTROLLER", "CONTACT", "UPDATED"):
            key = self.take(self.peek())[1]
            if key in fields:
                raise Decline(self.toks[self.i][2])  # parse.duplicate_metadata
            if key == "updated":
                tok = self.kept("DATE")
                try:
                    fields[key] = dt.date.fromisoformat(tok[1])
                except ValueError:
                    raise Decline(tok[2]) from None  # parse.invalid_date
            else:
                fields[key] = _text(self.kept("STRING")[1])
        return ast.Metadata(name=_text(name[1]), span=self.span("header", name[2]), **fields)  # type: ignore[arg-type]

    def term_decl(self) -> ast.TermDecl:
        kind = self.kept("TERM_KIND")
        term_id = self.name()
        label = self.kept("STRING")
        implies = self.term_list() if self.skip("IMPLIES") else ()
        return ast.TermDecl(kind=kind[1], id=term_id[1], label=_text(label[1]), implies=implies,
                            span=self.span("term_decl", kind[2]), id_span=Span(term_id[2], term_id[3]))

    def section(self) -> ast.Section:
        self.take("SECTION")
        title = self.kept("STRING")
        self.take("COLON")
        items: list[ast.SectionItem] = []
        while True:
            kind = self.peek()
            if kind == "EFFECT":
                items.append(self.rule())
            elif kind == "EXPECT":
                items.append(self.expectation())
            elif kind in ("NEVER", "EVERY", "NO"):
                items.append(self.invariant())
            elif kind == "RIGHT":
                items.append(self.right())
            elif kind == "RETENTION":
                items.append(self.retention())
            elif kind == "SECURITY":
                items.append(self.security())
            elif kind in ("NOTE_WORD", "EFFECTIVE", "VERSION", "CONTROLLING"):
                items.append(self.note())
            elif kind == "CHANGES":
                items.append(self.changes())
            elif kind == "AUDIENCE":
                items.append(self.audience())
            else:
                break
        return ast.Section(title=_text(title[1]), items=tuple(items), span=self.span("section", title[2]),
                           title_span=Span(title[2], title[3]))

    # ---- terms and clauses
    def term_list(self) -> tuple[ast.TermRef, ...]:
        refs = []
        while True:
            tok = self.name()
            refs.append(ast.TermRef(id=tok[1], span=Span(tok[2], tok[3])))
            if not self.skip("COMMA"):
                return tuple(refs)

    def data_spec(self) -> tuple[tuple[ast.TermRef, ...] | None, int]:
        tok = self.toks[self.i]
        if tok[1] == "all":
            found = _ALL_DATA.match(self.text, tok[2])
            if found is not None:
                after = self.toks[self.i + 1]
                if after[3] != found.end():  # pragma: no cover - `all data` is always two words
                    raise Decline(tok[2])
                self.i += 2
                self.last = after[3]
                return None, tok[2]
        return self.term_list(), tok[2]

    def ref(self) -> ast.TermRef:
        tok = self.name()
        return ast.TermRef(id=tok[1], span=Span(tok[2], tok[3]))

    def scope(self, fields: dict[str, object]) -> None:
        """`from S`, `for P`, `with R` / `to R`, each optional, in this order."""
        if self.skip("FROM"):
            fields["sources"] = self.term_list()
        if self.skip("FOR"):
            fields["purposes"] = self.term_list()
        if self.skip("WITH") or self.skip("TO"):
            fields["recipients"] = self.term_list()
        if self.skip("IN"):
            fields["destinations"] = self.term_list()

    # ---- conditions: or of ands of (not ...) atoms
    def condition(self) -> tuple[ast.Condition, int, int]:
        """(node, first kept token's start, height); self.last is its last kept token's end."""
        return self.junction("OR", ast.Or, "or_cond", self.conjunction)

    def conjunction(self) -> tuple[ast.Condition, int, int]:
        return self.junction("AND", ast.And, "and_cond", self.negation)

    def junction(self, word: str, cls: type, kind: str, operand) -> tuple[ast.Condition, int, int]:  # type: ignore[no-untyped-def]
        node, first, height = operand()
        if self.peek() != word:
            return node, first, height
        operands = list(node.operands) if isinstance(node, cls) else [node]  # type: ignore[attr-defined]
        while self.skip(word):
            node, _, child_height = operand()
            height = max(height, child_height)
            operands.extend(node.operands if isinstance(node, cls) else [node])  # type: ignore[attr-defined]
        return cls(operands=tuple(operands), span=self.span(kind, first)), first, _deeper(height)

    def negation(self) -> tuple[ast.Condition, int, int]:
        nots = []
        while self.peek() == "NOT":
            nots.append(self.kept("NOT")[2])
        node, first, height = self.atom()
        for start in reversed(nots):
            node, first, height = ast.Not(operand=node, span=self.span("negation", start)), start, _deeper(height)
        return node, first, height

    def atom(self) -> tuple[ast.Condition, int, int]:
        if self.skip("LPAR"):
            inner = self.condition()
            self.take("RPAR")
            return inner
        tok = self.name()
        if self.peek() == "LESS":  # `account_closed less than 30 days ago`: a time limit's atom
            return self.elapsed(tok), tok[2], 0
        return ast.FactRef(name=tok[1], span=Span(tok[2], tok[3])), tok[2], 0

    # ---- section items
    def rule(self) -> ast.Rule:
        effect = self.kept("EFFECT")
        action = self.action()
        self.of()
        data, _ = self.data_spec()
        fields: dict[str, object] = {}
        self.scope(fields)
        if self.skip("UNDER"):
            fields["safeguard"] = self.ref()
        if self.peek() in ("WITHIN", "AFTER"):
            fields["time"] = self.time_limit()
        if self.skip("IF"):
            fields["condition"] = self.condition()[0]
        if self.skip("BASIS"):
            fields["basis"] = self.ref()
        return ast.Rule(effect=effect[1], action=action[1], data=data, span=self.span("rule", effect[2]),
                        **fields)  # type: ignore[arg-type]

    def expectation(self) -> ast.Expectation:
        self.take("EXPECT")
        decision = self.kept("CONDITIONAL" if self.peek() == "CONDITIONAL" else "EFFECT")
        lasting = self.duration() if self.skip("FOR") else None
        self.take("COLON")
        query = self.query()
        requires = None
        if self.skip("REQUIRES"):
            if decision[1] != "conditional":
                raise Decline(decision[2])  # parse.requires_without_conditional
            requires = self.condition()[0]
        return ast.Expectation(decision=decision[1], query=query, requires=requires, lasting=lasting,
                               span=self.span("expectation", decision[2]))

    def query(self) -> ast.Query:
        action = self.action()
        self.of()
        data = self.ref()
        clauses: dict[str, object] = {}
        fields: dict[str, object] = {}
        if self.skip("FROM"):
            clauses["sources"] = self.term_list()
        if self.skip("COLLECTED"):
            fields["collected"] = self.duration()
            self.kept("AGO")
        self.scope(clauses)
        for plural, refs in clauses.items():
            if len(refs) > 1:  # type: ignore[arg-type]
                raise Decline(self.last)  # parse.one_term_per_question
            fields[_SINGULAR[plural]] = refs[0]  # type: ignore[index]
        if self.skip("GIVEN"):
            if self.peek() == "NOTHING":
                self.kept("NOTHING")
                fields["facts"] = ()
            else:
                fields["facts"], fields["ages"] = self.given_facts()
        return ast.Query(action=action[1], data=data, span=self.span("query", action[2]), **fields)  # type: ignore[arg-type]

    def invariant(self) -> ast.Invariant:
        form = self.kept(self.peek())
        action = self.action()
        fields: dict[str, object] = {}
        if self.skip("OF") or self.peek() == "TERM_ID":
            fields["data"] = self.data_spec()[0]
        self.scope(fields)
        if form[1] == "every":
            self.take("HAS")
            self.take("BASIS")
            fields["basis"] = self.ref()
        elif form[1] == "no":
            if self.skip("WITHOUT"):
                fields["without"] = self.ref()
            elif self.skip("EXCEPT"):
                if self.skip("UNDER"):
                    fields["safeguards"] = self.term_list()
                else:
                    fields["exceptions"] = self.term_list()
            else:
                self.take("UNLESS")
                fields["unless"] = self.condition()[0]
        return ast.Invariant(form=form[1], action=action[1], span=self.span("invariant", form[2]),
                             **fields)  # type: ignore[arg-type]

    def retention(self) -> ast.Retention:
        self.take("RETENTION")
        self.take("OF")
        data, first = self.data_spec()
        self.take("COLON")
        period = self.kept("STRING")
        return ast.Retention(data=data, period=_text(period[1]), span=self.span("retention", first))

    def security(self) -> ast.Security:
        self.take("SECURITY")
        first = self.kept("STRING")
        measures = [_text(first[1])]
        while self.skip("COMMA"):
            measures.append(_text(self.kept("STRING")[1]))
        return ast.Security(measures=tuple(measures), span=self.span("security", first[2]))


def _deeper(height: int) -> int:
    if height + 1 > MAX_CONDITION_DEPTH:
        raise Decline(0)  # parse.too_deep: the tree path says where
    return height + 1


def parse_fast(source: Source) -> ast.PolicyFile:
    """The AST of a well-formed text, or Decline (RecursionError on absurd nesting)."""
    return _Reader(source).policy()
