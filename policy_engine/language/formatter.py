"""Source -> canonical text, comments kept. In: Source. Out: FormatResult (text or diagnostics).

The layout is the printer's (`printer.py`): header, declarations, then sections with their
statements indented, rules wrapped one clause per line beyond 80 columns. On top of it fmt
  - keeps every comment: a comment on its own line stays above the statement after it (or at the
    end of its section, when indented there); a comment after code stays at the end of the line
    of the clause it followed (a rule with comments inside it is written one clause per line);
    a comment on its own line inside a statement moves above that statement;
  - keeps one blank line where the author left one or more between statements of a block;
  - aligns the labels of a run of declarations of the same kind.
Only whitespace and comment placement change, so `parse(fmt(s)) == parse(s)` (a tested law)
and fmt is idempotent. A file that does not parse is never rewritten.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from policy_engine.language import ast
from policy_engine.language import printer
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.parser import Comment, parse
from policy_engine.language.source import Source

INDENT = printer.INDENT
WIDTH = 80  # the printer's: a statement longer than this is wrapped
_META_WORD = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|[A-Za-z_][\w.]*|\S')


@dataclass
class FormatResult:
    source: Source
    text: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.text is not None

    @property
    def changed(self) -> bool:
        return self.text is not None and self.text != self.source.text


@dataclass
class _Stmt:
    """One statement of the source, with the comments that travel with it."""

    kind: str  # header | term | section | item
    node: object
    start: int
    end: int
    anchors: list[tuple[int, object]]  # (source offset, key) of each part that starts a printed line
    section: int = -1  # index of the section the statement belongs to (-1: top level)
    blank_before: bool = False
    leading: list[tuple[str, bool]] = field(default_factory=list)  # (comment, blank line before it)
    inner: list[str] = field(default_factory=list)  # own-line comments inside the statement, hoisted
    trailing: dict[object, list[str]] = field(default_factory=dict)

    def key_at(self, offset: int) -> object:
        best = self.anchors[0][1]
        for pos, key in self.anchors:
            if pos < offset:
                best = key
        return best


def format_source(source: Source) -> FormatResult:
    parsed = parse(source)
    if parsed.policy is None or any(d.is_error for d in parsed.diagnostics):
        return FormatResult(source, None, [d for d in parsed.diagnostics if d.is_error] or parsed.diagnostics)
    return FormatResult(source, _Formatter(source, parsed.policy, parsed.comments).run())


def format_text(text: str, path: str = "<string>") -> FormatResult:
    return format_source(Source(text, path))


class _Formatter:
    def __init__(self, source: Source, policy: ast.PolicyFile, comments: list[Comment]):
        self.text = source.text
        self.policy = policy
        self.comments = comments
        self.stmts: list[_Stmt] = []
        self.section_tails: dict[int, list[tuple[str, bool]]] = {}
        self.file_tail: list[tuple[str, bool]] = []
        self.closed_tails: set[int] = set()
        self.out: list[str] = []
        self.block_start = True

    # ---- collecting statements and attaching comments ---------------------------------

    def run(self) -> str:
        self.collect()
        self.attach()
        self.render()
        return "\n".join(self.out).rstrip("\n") + "\n" if self.out else ""

    def blank_before(self, offset: int) -> bool:
        """Whether an empty line separates `offset` from the code or comment before it."""
        k = len(self.text[:offset].rstrip())
        return self.text.count("\n", k, offset) >= 2

    def collect(self) -> None:
        p = self.policy
        if p.meta is not None and p.meta.span is not None:
            anchors: list[tuple[int, object]] = [(p.meta.span.start, "policy")]
            seen: set[str] = set()
            start, end = p.meta.span.start, p.meta.span.end
            for m in _META_WORD.finditer(self.text, start, end):
                word = m.group()
                if word in ("controller", "contact", "updated") and word not in seen:
                    seen.add(word)
                    anchors.append((m.start(), word))
            self.stmts.append(_Stmt("header", p.meta, start, end, sorted(anchors, key=lambda a: a[0])))
        for decl in p.terms:
            assert decl.span is not None
            self.stmts.append(_Stmt("term", decl, decl.span.start, decl.span.end, [(decl.span.start, 0)]))
        for index, section in enumerate(p.sections):
            assert section.span is not None
            head_end = section.title_span.end + 1 if section.title_span else section.span.start
            self.stmts.append(_Stmt("section", section, section.span.start, head_end, [(section.span.start, 0)],
                                    section=index))
            for item in section.items:
                assert item.span is not None
                self.stmts.append(_Stmt("item", item, item.span.start, item.span.end, self.item_anchors(item),
                                        section=index))
        self.stmts.sort(key=lambda s: s.start)
        for stmt in self.stmts:
            stmt.blank_before = self.blank_before(stmt.start)

    @staticmethod
    def item_anchors(item: ast.SectionItem) -> list[tuple[int, object]]:
        assert item.span is not None
        anchors: list[tuple[int, object]] = [(item.span.start, 0)]
        if isinstance(item, ast.Rule):
            parts: list[ast.Node | None] = [
                item.sources[0] if item.sources else None,
                item.purposes[0] if item.purposes else None,
                item.recipients[0] if item.recipients else None,
                item.destinations[0] if item.destinations else None,
                item.safeguard,
                item.time,
                item.condition,
                item.basis,
            ]
            key = 0
            for part in parts:
                if part is not None:
                    key += 1
                    anchors.append((part.span.start if part.span else item.span.start, key))
        return anchors

    def attach(self) -> None:
        starts = [s.start for s in self.stmts]
        for comment in self.comments:
            o = comment.span.start
            line_start = self.text.rfind("\n", 0, o) + 1
            own_line = not self.text[line_start:o].strip()
            i = bisect.bisect_left(starts, o)  # stmts[:i] start before the comment
            prev = self.stmts[i - 1] if i else None
            nxt = self.stmts[i] if i < len(self.stmts) else None
            if not own_line and prev is not None:
                prev.trailing.setdefault(prev.key_at(o), []).append(comment.text)
                continue
            if prev is not None and prev.start < o < prev.end:
                prev.inner.append(comment.text)
                continue
            blank = self.blank_before(o)
            indented = o > line_start
            if prev is not None and prev.section >= 0 and (nxt is None or nxt.kind != "item") and indented \
                    and not self._tail_closed(prev.section):
                self.section_tails.setdefault(prev.section, []).append((comment.text, blank))
                continue
            if prev is not None and prev.section >= 0 and (nxt is None or nxt.kind != "item"):
                self._close_tail(prev.section)
            if nxt is None:
                self.file_tail.append((comment.text, blank))
            else:
                nxt.leading.append((comment.text, blank))

    def _tail_closed(self, section: int) -> bool:
        return section in self.closed_tails

    def _close_tail(self, section: int) -> None:
        self.closed_tails.add(section)

    # ---- rendering -------------------------------------------------------------------

    def blank(self) -> None:
        if self.out and self.out[-1] != "" and not self.block_start:
            self.out.append("")

    def line(self, text: str) -> None:
        self.out.append(text)
        self.block_start = False

    def emit_comments(self, comments: list[tuple[str, bool]], indent: str) -> None:
        for text, blank in comments:
            if blank:
                self.blank()
            self.line(indent + text)

    def lead(self, stmt: _Stmt, indent: str) -> None:
        """The comments above a statement, then the blank line the author left before it, if any."""
        self.emit_comments(stmt.leading, indent)
        if stmt.blank_before:
            self.blank()
        for text in stmt.inner:
            self.line(indent + text)

    @staticmethod
    def with_comments(text: str, comments: list[str] | None) -> str:
        return f"{text}  {' '.join(comments)}" if comments else text

    def render(self) -> None:
        by_kind: dict[str, list[_Stmt]] = {"header": [], "term": [], "section": [], "item": []}
        items: dict[int, list[_Stmt]] = {}
        for stmt in self.stmts:
            by_kind[stmt.kind].append(stmt)
            if stmt.kind == "item":
                items.setdefault(stmt.section, []).append(stmt)
        for stmt in by_kind["header"]:
            self.render_header(stmt)
            self.blank()
        self.render_terms(by_kind["term"])
        self.blank()
        for stmt in by_kind["section"]:
            self.blank()
            self.lead(stmt, "")
            section = stmt.node
            assert isinstance(section, ast.Section)
            self.line(self.with_comments(f"section {printer.quote(section.title)}:", stmt.trailing.get(0)))
            self.block_start = True
            for item in items.get(stmt.section, []):
                self.lead(item, INDENT)
                for text in self.item_lines(item):
                    self.line(text)
            self.emit_comments(self.section_tails.get(stmt.section, []), INDENT)
            self.block_start = False
            self.blank()
        self.emit_comments(self.file_tail, "")
        while self.out and self.out[-1] == "":
            self.out.pop()

    def render_header(self, stmt: _Stmt) -> None:
        meta = stmt.node
        assert isinstance(meta, ast.Metadata)
        self.lead(stmt, "")
        lines = printer.format_policy(ast.PolicyFile(meta=meta)).rstrip("\n").split("\n")
        self.line(self.with_comments(lines[0], stmt.trailing.get("policy")))
        for text in lines[1:]:
            self.line(self.with_comments(text, stmt.trailing.get(text.split()[0])))
        # comments after a header key that is not printed (none today) are not lost:
        printed = {"policy", *(t.split()[0] for t in lines[1:])}
        for key, texts in stmt.trailing.items():
            if key not in printed:
                self.out[-1] = self.with_comments(self.out[-1], texts)

    def render_terms(self, terms: list[_Stmt]) -> None:
        """Declarations in written order; a blank line between kinds; labels aligned per run
        (a run ends at a blank line or a change of kind; comment lines do not end it)."""
        runs: list[list[tuple[int, str, str, list[str] | None]]] = []
        prev_kind = None
        for stmt in terms:
            decl = stmt.node
            assert isinstance(decl, ast.TermDecl)
            if prev_kind is not None and decl.kind != prev_kind:
                self.blank()
            mark = len(self.out)
            self.lead(stmt, "")
            if decl.kind != prev_kind or "" in self.out[mark:] or (runs and "" in self.out[runs[-1][-1][0]:mark]):
                runs.append([])
            prev_kind = decl.kind
            runs[-1].append((len(self.out), f"{decl.kind} {decl.id}", printer.quote(decl.label) + printer.implies_clause(decl),
                             stmt.trailing.get(0)))
            self.line("\x00")  # filled in below, once the run's width is known
        for run in runs:
            width = max(len(head) for _, head, _, _ in run)
            for index, head, label, trailing in run:
                self.out[index] = self.with_comments(f"{head.ljust(width)} {label}", trailing)

    def item_lines(self, stmt: _Stmt) -> list[str]:
        """The statement's lines, indented for its section: the printer's layout, with a long
        expectation's `given` / `requires` on continuation lines the way long rules are wrapped."""
        item = stmt.node
        cont = INDENT * 2
        if isinstance(item, ast.Rule):
            clauses = printer.rule_clauses(item)
            lines = (INDENT + printer.format_item(item)).split("\n")
            last = len(clauses) - 1
            if not stmt.trailing:
                return lines
            if len(lines) == 1 and set(stmt.trailing) == {last}:
                return [self.with_comments(lines[0], stmt.trailing[last])]
            lines = [INDENT + clauses[0]] + [cont + c for c in clauses[1:]]
            return [self.with_comments(t, stmt.trailing.get(k)) for k, t in enumerate(lines)]
        text = printer.format_item(item)  # type: ignore[arg-type]
        lines = [INDENT + t for t in text.split("\n")]
        if isinstance(item, ast.Right) and "\n" in text:  # wrapped like a rule: one clause a line
            lines = [INDENT + part.strip() if i == 0 else cont + part.strip() for i, part in enumerate(text.split("\n"))]
        if isinstance(item, ast.Expectation) and len(text) > WIDTH:
            lines = [INDENT + part if i == 0 else cont + part for i, part in enumerate(_expectation_parts(item))]
        joined = [c for key in sorted(stmt.trailing, key=str) for c in stmt.trailing[key]]
        lines[-1] = self.with_comments(lines[-1], joined or None)
        return lines


def _expectation_parts(exp: ast.Expectation) -> list[str]:
    """`expect D: QUESTION`, then `given ...` and `requires ...` as their own parts."""
    query = exp.query.model_copy(update={"facts": None, "ages": ()})
    parts = [f"{printer.expectation_head(exp)} {printer.format_query(query)}"]
    if exp.query.facts is not None:
        parts.append(printer.given_clause(exp.query))
    if exp.requires is not None:
        parts.append(f"requires {printer.format_condition(exp.requires)}")
    return parts
