"""Lark tree -> AST (the reference path). In: a Lark tree. Out: ast.PolicyFile and diagnostics.

Used when the fast path (fast_parse.py) declines a text: it reports the few faults only
visible after parsing (a date not in the calendar, a header field given twice, a question
naming two terms of one kind, `requires` after `expect allow`) and refuses conditions nested
deeper than MAX_CONDITION_DEPTH, since every later stage recurses on them.
"""

from __future__ import annotations

import datetime as dt

from lark import Token, Tree

from policy_engine.language import ast
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.source import Source, Span
from policy_engine.language.spans import token_span, tree_span

# Deeper conditions are refused: every later stage (checker, engine, printer) recurses on them.
MAX_CONDITION_DEPTH = 256


class TooDeep(Exception):
    def __init__(self, span: Span | None):
        self.span = span


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


class AstBuilder:
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
                    tree_span(m, self.source.text), help=f"keep one `{key}` line"))
                continue
            if key == "updated":
                fields[key] = self.date(tok)
            else:
                fields[key] = unescape(tok)
        return ast.Metadata(name=unescape(name_tok), span=tree_span(tree, self.source.text), **fields)  # type: ignore[arg-type]

    def date(self, tok: Token) -> dt.date | None:
        try:
            return dt.date.fromisoformat(str(tok))
        except ValueError:
            self.diagnostics.append(Diagnostic(
                "parse.invalid_date", f"`{tok}` is not a date in the calendar", self.source, token_span(tok),
                help="write dates as YYYY-MM-DD, like 2018-05-25"))
            return None

    def term_decl(self, tree: Tree) -> ast.TermDecl:
        kind, term_id, label, *rest = tree.children
        implies = self.term_refs(rest[0].children[0]) if rest else ()
        return ast.TermDecl(kind=str(kind), id=str(term_id), label=unescape(label), implies=implies,
                            span=tree_span(tree, self.source.text), id_span=token_span(term_id))

    def section(self, tree: Tree) -> ast.Section:
        title, *items = tree.children
        built = [self.item(i) for i in items]
        return ast.Section(title=unescape(title), items=tuple(b for b in built if b is not None), span=tree_span(tree, self.source.text),
                           title_span=token_span(title))

    def item(self, tree: Tree) -> ast.SectionItem | None:
        return getattr(self, "item_" + tree.data)(tree)

    def term_refs(self, tree: Tree) -> tuple[ast.TermRef, ...]:
        return tuple(ast.TermRef(id=str(t), span=token_span(t)) for t in tree.children)

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
            elif c.data == "destination_clause":
                out["destinations"] = self.term_refs(c.children[0])
            elif c.data == "safeguard_clause":
                out["safeguard"] = ast.TermRef(id=str(c.children[0]), span=token_span(c.children[0]))
            elif c.data == "condition_clause":
                out["condition"] = self.condition(c.children[0])
            elif c.data == "basis_clause":
                out["basis"] = ast.TermRef(id=str(c.children[0]), span=token_span(c.children[0]))
            elif c.data == "given_clause":
                out["facts"], out["ages"] = self.given(c.children)
            elif c.data in ("within_limit", "after_limit"):
                out["time"] = self.time_limit(c)
            elif c.data == "collected_clause":
                out["collected"] = self.duration(c.children[0])
        return out

    def given(self, children: list) -> tuple[tuple[ast.TermRef, ...], tuple[tuple[str, ast.Duration], ...]]:
        """`given nothing`, `given a, b 10 days ago`: the facts listed, and how long ago those with
        an age began to hold."""
        if len(children) == 1 and isinstance(children[0], Token):
            return (), ()
        facts, ages = [], []
        for g in children:
            tok = g.children[0]
            facts.append(ast.TermRef(id=str(tok), span=token_span(tok)))
            if len(g.children) > 1:
                ages.append((str(tok), self.duration(g.children[1])))
        return tuple(facts), tuple(ages)

    def time_limit(self, tree: Tree) -> ast.TimeLimit:
        """`within 30 days after account_closed`, `after 2 years`."""
        duration, *anchor = tree.children
        ref = None
        if anchor:
            tok = anchor[0].children[0]
            ref = ast.TermRef(id=str(tok), span=token_span(tok))
        return ast.TimeLimit(form="within" if tree.data == "within_limit" else "after",
                             duration=self.duration(duration), anchor=ref, span=tree_span(tree, self.source.text))

    def item_rule(self, tree: Tree) -> ast.Rule:
        effect, action, data, *rest = tree.children
        return ast.Rule(effect=str(effect), action=str(action), data=self.data_spec(data), span=tree_span(tree, self.source.text),
                        **self.clauses(rest))  # type: ignore[arg-type]

    def condition(self, tree: Tree | Token, depth: int = 0) -> ast.Condition:
        if depth > MAX_CONDITION_DEPTH:
            raise TooDeep(tree_span(tree, self.source.text))
        if tree.data == "fact_ref":
            tok = tree.children[0]
            return ast.FactRef(name=str(tok), span=token_span(tok))
        if tree.data == "elapsed_ref":  # `account_closed less than 30 days ago`: a time limit's atom
            from policy_engine.language.timelimits import atom_name

            tok, duration, _ago = tree.children
            return ast.FactRef(name=atom_name(str(tok), self.duration(duration)), span=tree_span(tree, self.source.text))
        if tree.data == "negation":
            return ast.Not(operand=self.condition(tree.children[1], depth + 1), span=tree_span(tree, self.source.text))
        cls = ast.And if tree.data == "and_cond" else ast.Or
        operands: list[ast.Condition] = []
        for child in tree.children:
            if isinstance(child, Token):
                continue
            built = self.condition(child, depth + 1)
            operands.extend(built.operands if isinstance(built, cls) else [built])
        return cls(operands=tuple(operands), span=tree_span(tree, self.source.text))

    def item_expectation(self, tree: Tree) -> ast.Expectation:
        decision, *rest = tree.children
        lasting = None
        if isinstance(rest[0], Tree) and rest[0].data == "lasting_clause":
            lasting = self.duration(rest.pop(0).children[0])
        query, *rest = rest
        requires = self.condition(rest[0].children[0]) if rest else None
        if requires is not None and str(decision) != "conditional":
            self.diagnostics.append(Diagnostic(
                "parse.requires_without_conditional", f"`requires` only follows `expect conditional`, not "
                f"`expect {decision}`", self.source, tree_span(rest[0], self.source.text),
                help="write `expect conditional: ... requires CONDITION`, or drop `requires`"))
            requires = None
        return ast.Expectation(decision=str(decision), query=self.query(query), requires=requires, lasting=lasting,
                               span=tree_span(tree, self.source.text))

    def query(self, tree: Tree) -> ast.Query:
        action, data, *rest = tree.children
        clauses = self.clauses(rest)
        single: dict[str, ast.TermRef] = {}
        for plural, dim in (("sources", "source"), ("purposes", "purpose"), ("recipients", "recipient"),
                            ("destinations", "destination")):
            refs = clauses.pop(plural, ())
            if len(refs) > 1:  # type: ignore[arg-type]
                extra = refs[1]  # type: ignore[index]
                self.diagnostics.append(Diagnostic(
                    "parse.one_term_per_question", f"a question names one {dim}, this one names {len(refs)}",  # type: ignore[arg-type]
                    self.source, Span(extra.span.start, refs[-1].span.end) if extra.span else None,  # type: ignore[index]
                    help=f"write one expectation per {dim}"))
            if refs:
                single[dim] = refs[0]  # type: ignore[index]
        return ast.Query(action=str(action), data=ast.TermRef(id=str(data), span=token_span(data)), span=tree_span(tree, self.source.text),
                         facts=clauses.get("facts"), ages=clauses.get("ages", ()), collected=clauses.get("collected"),
                         **single)  # type: ignore[arg-type]

    def item_right(self, tree: Tree) -> ast.Right:
        name, *rest = tree.children
        fields: dict[str, object] = {}
        channels: list[str] = []
        exceptions: list[ast.RightException] = []
        for c in rest:
            if isinstance(c, Token):
                channels.append(unescape(c))
            elif c.data == "condition_clause":
                fields["condition"] = self.condition(c.children[0])
            elif c.data == "deadline_clause":
                fields["deadline"] = self.duration(c.children[0])
                if len(c.children) > 1:
                    fields["extension"] = self.duration(c.children[1].children[0])
            elif c.data == "limit_clause":
                fields["limit"] = int(c.children[0])
                fields["per"] = self.duration(c.children[1])
            elif c.data == "right_except":
                action, *purpose = c.children
                exceptions.append(ast.RightException(action=str(action), purposes=self.term_refs(
                    purpose[0].children[0]) if purpose else (), span=tree_span(c, self.source.text)))
        return ast.Right(right=ast.TermRef(id=str(name), span=token_span(name)), channels=tuple(channels),
                         exceptions=tuple(exceptions), span=tree_span(tree, self.source.text), **fields)  # type: ignore[arg-type]

    def duration(self, tree: Tree) -> ast.Duration:
        count, unit = tree.children
        return ast.Duration(count=int(count), unit=str(unit).rstrip("s"), span=tree_span(tree, self.source.text))  # type: ignore[arg-type]

    def item_note(self, tree: Tree) -> ast.Note:
        word, *rest = tree.children
        topic = "controlling_language" if word.type == "CONTROLLING" else str(word)
        fields: dict[str, object] = {}
        for c in rest:
            if isinstance(c, Tree):
                fields["condition"] = self.condition(c.children[0])
            elif c.type == "DATE":
                fields["date"] = self.date(c)
            else:
                fields["text"] = unescape(c)
        return ast.Note(topic=topic, span=tree_span(tree, self.source.text), **fields)  # type: ignore[arg-type]

    def item_changes(self, tree: Tree) -> ast.ChangeNotice:
        notice, *channels = tree.children
        return ast.ChangeNotice(notice=self.duration(notice), channels=tuple(unescape(c) for c in channels),
                                span=tree_span(tree, self.source.text))

    def item_audience(self, tree: Tree) -> ast.Audience:
        return ast.Audience(condition=self.condition(tree.children[0]), span=tree_span(tree, self.source.text))

    def item_retention(self, tree: Tree) -> ast.Retention:
        data, period = tree.children
        return ast.Retention(data=self.data_spec(data), period=unescape(period), span=tree_span(tree, self.source.text))

    def item_security(self, tree: Tree) -> ast.Security:
        return ast.Security(measures=tuple(unescape(c) for c in tree.children), span=tree_span(tree, self.source.text))

    def item_invariant(self, tree: Tree) -> ast.Invariant:
        form, action, *rest = tree.children
        fields: dict[str, object] = {}
        for c in rest:
            if c.data == "data_spec":
                fields["data"] = self.data_spec(c)
            elif c.data == "without_clause":
                fields["without"] = ast.TermRef(id=str(c.children[0]), span=token_span(c.children[0]))
            elif c.data == "except_clause":
                fields["exceptions"] = self.term_refs(c.children[0])
            elif c.data == "unless_clause":
                fields["unless"] = self.condition(c.children[0])
            elif c.data == "except_under_clause":
                fields["safeguards"] = self.term_refs(c.children[0])
        fields.update(self.clauses(rest))
        return ast.Invariant(form=str(form), action=str(action), span=tree_span(tree, self.source.text), **fields)  # type: ignore[arg-type]
