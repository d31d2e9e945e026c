"""Checked policy -> a document for lawyers. In: ast.PolicyFile, its Source, optionally the
published text. Out: Markdown or HTML (str).

Each section's statements become plain sentences (who may do what with which data, under
which condition and legal basis), beside the encoder's notes that quote the published text;
expectations and invariants are listed as the tests they are.

The coverage view answers "which sentences of the published text does the policy cite?".
The matching is deliberately simple, so a reader can redo it by hand:

* The published text is split into headings and sentences. A line is a heading when a
  section of the policy cites it (section titles are heading paths: "Website / Marketing");
  every other line is split into sentences (a bullet is its own sentence).
* A comment paragraph of the policy *cites* a sentence when it lies in a section whose title
  is the sentence's heading path and quotes a run of at least eight consecutive words of it
  (the whole sentence when it is shorter), compared case- and punctuation-blind. Text before
  the first heading is cited by the comments above the first section.
* A literal text of a statement in that section (a right's channel, a retention period, a
  security measure; the controller and contact for the opening lines) cites a sentence that
  contains it.
* A sentence is **encoded** when a note or a statement cites it, **noted** when only a
  `# not encodable ...` comment cites it (the encoder read it and said why no rule can say
  it), and **uncited** otherwise. The coverage figure is encoded sentences / all sentences.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Iterable, Literal, Union

from policy_engine.language import ast
from policy_engine.language.parser import scan_comments
from policy_engine.language.printer import format_condition
from policy_engine.language.source import Source

Format = Literal["markdown", "html"]
FORMATS: tuple[str, ...] = ("markdown", "html")

# A run of this many consecutive words of a sentence (normalised: `e-mail` is two), found in a
# note, cites the sentence.
CITATION_WORDS = 8

# ---- a tiny document model, written out as Markdown or HTML ---------------------------------

Inline = Union[str, tuple[str, str]]  # plain text, or (style, text) with style code / strong / em


@dataclass
class Heading:
    level: int
    text: list[Inline]
    anchor: str | None = None


@dataclass
class Para:
    text: list[Inline]
    css: str | None = None


@dataclass
class Bullets:
    items: list[list[Inline]]


@dataclass
class Quote:
    paragraphs: list[list[Inline]]


@dataclass
class Table:
    header: list[str]
    rows: list[list[list[Inline]]]
    row_css: list[str | None] = field(default_factory=list)


Block = Union[Heading, Para, Bullets, Quote, Table]


def code(text: str) -> Inline:
    return ("code", text)


def strong(text: str) -> Inline:
    return ("strong", text)


def em(text: str) -> Inline:
    return ("em", text)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md_inline(parts: list[Inline], in_table: bool = False) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(_MD_SPECIAL.sub(r"\\\1", part))
            continue
        style, text = part
        if style == "code":
            fence = "``" if "`" in text else "`"
            body = text.replace("|", "\\|") if in_table else text
            out.append(f"{fence}{body}{fence}")
        else:
            mark = "**" if style == "strong" else "*"
            out.append(mark + _MD_SPECIAL.sub(r"\\\1", text) + mark)
    text = "".join(out)
    return text.replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + _md_inline(b.text))
        elif isinstance(b, Para):
            out.append(_md_inline(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join("- " + _md_inline(item) for item in b.items))
        elif isinstance(b, Quote):
            out.append("\n>\n".join("> " + _md_inline(p) for p in b.paragraphs))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
            for row in b.rows:
                lines.append("| " + " | ".join(_md_inline(cell, in_table=True) for cell in row) + " |")
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _html_inline(parts: list[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(html.escape(part, quote=False))
        else:
            style, text = part
            out.append(f"<{style}>{html.escape(text, quote=False)}</{style}>")
    return "".join(out)


_CSS = """
body { font: 16px/1.55 Georgia, 'Times New Roman', serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; }
h1, h2, h3 { font-family: system-ui, sans-serif; line-height: 1.25; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.5rem; }
code { font: 0.85em ui-monospace, monospace; background: #f3f3f3; padding: 0 .2em; border-radius: 3px; }
blockquote { margin: .8rem 0; padding: .2rem 1rem; border-left: 4px solid #c9c9c9; color: #444; background: #fafafa; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .35rem .5rem; vertical-align: top; text-align: left; }
tr.encoded td:first-child { background: #e3f4e1; }
tr.noted td:first-child { background: #fdf3d6; }
tr.uncited td:first-child { background: #fbe1e1; }
p.figure { font-size: 1.15em; }
""".strip()


def to_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
            body.append(f"<h{b.level}{anchor}>{_html_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            css = f' class="{b.css}"' if b.css else ""
            body.append(f"<p{css}>{_html_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>\n" + "\n".join(f"  <li>{_html_inline(i)}</li>" for i in b.items) + "\n</ul>")
        elif isinstance(b, Quote):
            body.append("<blockquote>\n" + "\n".join(f"  <p>{_html_inline(p)}</p>" for p in b.paragraphs)
                        + "\n</blockquote>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = []
            for i, row in enumerate(b.rows):
                css = b.row_css[i] if i < len(b.row_css) else None
                cls = f' class="{css}"' if css else ""
                rows.append(f"  <tr{cls}>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>")
            body.append(f"<table>\n  <tr>{head}</tr>\n" + "\n".join(rows) + "\n</table>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# ---- the encoder's notes: comment paragraphs, placed in their sections -----------------------


@dataclass
class Note:
    """A paragraph of `#` comments: a line `# text`, then its continuation lines `#   more`."""

    section: ast.Section | None  # None: above the first section
    start: int  # offset in the policy text
    line: int
    text: str

    @property
    def not_encodable(self) -> bool:
        return self.text.lower().startswith("not encodable")


def notes(policy: ast.PolicyFile, source: Source) -> list[Note]:
    starts = [(s.span.start if s.span else 0, s) for s in policy.sections]
    out: list[Note] = []
    last_line = -2
    for comment in scan_comments(source.text):
        line, _ = source.position(comment.span.start)
        body = comment.text[1:]
        stripped = body.strip()
        code_before = source.line_text(line)[: source.position(comment.span.start)[1] - 1].strip()
        continues = (out and line == last_line + 1 and not code_before and body.startswith("  ")
                     and stripped)
        last_line = line
        if continues:
            out[-1].text += " " + stripped
            continue
        if not stripped or set(stripped) <= set("-=*# "):  # a ruler such as `# ---- data ----`
            continue
        if re.fullmatch(r"-+ *[\w ]+ *-+", stripped):
            continue
        section = None
        for start, s in starts:
            if start <= comment.span.start:
                section = s
        out.append(Note(section, comment.span.start, line, stripped))
    return out


# ---- sentences in plain words ---------------------------------------------------------------


class Words:
    """Labels for term ids, and the plain-words form of rules, conditions and questions."""

    def __init__(self, policy: ast.PolicyFile):
        self.labels = {(t.kind, t.id): t.label for t in policy.terms}

    def short(self, kind: str, term_id: str) -> str | None:
        """A label up to its first `:` or `(`: "Contacting us: e-mail, ..." reads "Contacting us"."""
        label = self.labels.get((kind, term_id))
        return re.split(r":| \(", label, maxsplit=1)[0].strip() if label else None

    def term(self, kind: str, ref: ast.TermRef | str) -> list[Inline]:
        term_id = ref if isinstance(ref, str) else ref.id
        label = self.short(kind, term_id)
        return [label, " (", code(term_id), ")"] if label else [code(term_id)]

    def terms(self, kind: str, refs: Iterable[ast.TermRef], word: str) -> list[Inline]:
        refs = list(refs)
        comma = "; " if any("," in (self.short(kind, r.id) or "") for r in refs) else ", "
        out: list[Inline] = []
        for i, ref in enumerate(refs):
            if i:
                out.append(f" {word} " if i == len(refs) - 1 else comma)
            out.extend(self.term(kind, ref))
        return out

    def data(self, data: tuple[ast.TermRef, ...] | None) -> list[Inline]:
        return ["all personal data"] if data is None else self.terms("data", data, "and")

    def condition(self, cond: ast.Condition, nested: bool = False) -> list[Inline]:
        if isinstance(cond, ast.FactRef):
            label = self.labels.get(("fact", cond.name))
            return ([f"“{label}” ("] if label else []) + [code(cond.name)] + ([")"] if label else [])
        if isinstance(cond, ast.Not):
            if isinstance(cond.operand, ast.Or):
                out: list[Inline] = [strong("neither"), " "]
                for i, o in enumerate(cond.operand.operands):
                    if i:
                        out += [" ", strong("nor"), " "]
                    out += self.condition(o, nested=True)
                return out
            return [strong("not"), " "] + self.condition(cond.operand, nested=True)
        word = "and" if isinstance(cond, ast.And) else "or"
        out = ["("] if nested else []
        for i, o in enumerate(cond.operands):
            if i:
                out += [" ", strong(word), " "]
            out += self.condition(o, nested=True)
        return out + ([")"] if nested else [])

    def rule(self, rule: ast.Rule) -> list[Inline]:
        modal: list[Inline]
        if rule.effect == "allow":
            modal = ["We ", strong("may"), " "]
        elif rule.condition is None:
            modal = ["We ", strong("never"), " "]
        else:
            modal = ["We ", strong("do not"), " "]
        out = modal + [rule.action, " "] + self.data(rule.data)
        src = self.terms("source", rule.sources, "or")
        pur = self.terms("purpose", rule.purposes, "or")
        rec = self.terms("recipient", rule.recipients, "or")
        if rule.action == "collect":
            out += [" from "] + src if src else [" from any source"]
            out += [" for "] + pur if pur else []
            out += [" through "] + rec if rec else []
        elif rule.action == "share":
            out += [" collected from "] + src if src else []
            out += [" with "] + rec if rec else [" with anyone"]
            out += [" for "] + pur if pur else []
        else:
            out += [" collected from "] + src if src else []
            out += [" for "] + pur if pur else [" for any purpose"]
            out += [" with "] + rec if rec else []
        if rule.condition is not None:
            out += [", ", strong("only if") if rule.effect == "allow" else strong("when"), " "]
            out += self.condition(rule.condition)
        out.append(".")
        if rule.basis is not None:
            out += [" ", em("Legal basis: " + rule.basis.id.replace("_", " ") + ".")]
        return out

    def scope(self, item: object) -> list[Inline]:
        """`use of email from forum for marketing`, in words: the questions an invariant speaks about."""
        data = getattr(item, "data", None)
        out: list[Inline] = [getattr(item, "action"), " of "]
        out += ["any personal data"] if data is None else self.terms("data", data, "or")
        for word, kind, refs in (("from", "source", getattr(item, "sources", ())),
                                 ("for", "purpose", getattr(item, "purposes", ())),
                                 ("with", "recipient", getattr(item, "recipients", ()))):
            if refs:
                out += [f" {word} "] + self.terms(kind, refs, "or")
        return out

    def invariant(self, item: object) -> list[Inline]:
        form = getattr(item, "form", "")
        out: list[Inline] = [strong("Promise"), " (checked over every question, not by examples): "]
        if form == "never":
            out += ["never "] + self.scope(item) + ["."]
        elif form == "every":
            basis = getattr(item, "basis", None)
            out += ["every allowed "] + self.scope(item) + [" has the legal basis ",
                                                           strong(basis.id.replace("_", " ") if basis else "?"), "."]
        else:
            without = getattr(item, "without", None)
            exceptions = getattr(item, "exceptions", ())
            out += ["no "] + self.scope(item)
            if without is not None:
                if without.id in ast.LEGAL_BASES:
                    out += [" without the legal basis ", strong(without.id.replace("_", " "))]
                else:
                    out += [" unless "] + self.condition(ast.FactRef(name=without.id))
            if exceptions:
                out += [" except of "] + self.terms("data", exceptions, "and")
            unless = getattr(item, "unless", None)
            if unless is not None:
                out += [" unless "] + self.condition(unless)
            out.append(".")
        return out

    def question(self, q: ast.Query) -> list[Inline]:
        out: list[Inline] = [em(q.action), " ", code(q.data.id)]
        for word, ref in (("from", q.source), ("for", q.purpose), ("with", q.recipient)):
            if ref is not None:
                out += [f" {word} ", code(ref.id)]
        if q.facts is None:
            out.append(", facts unknown")
        elif not q.facts:
            out.append(", given no facts")
        else:
            out.append(", given ")
            for i, f in enumerate(q.facts):
                out += ([", "] if i else []) + [code(f.id)]
        return out

    def item(self, item: object, source: Source) -> list[Inline]:
        if isinstance(item, ast.Rule):
            return self.rule(item)
        if isinstance(item, ast.Expectation):
            out: list[Inline] = ["Test: "] + self.question(item.query) + [" → must be ", strong(item.decision)]
            if item.requires is not None:
                out += [", requiring ", code(format_condition(item.requires))]
            return out
        if isinstance(item, ast.Right):
            return (["Right of ", strong(item.right.id.replace("_", " ")), ", exercised via "]
                    + _join_quoted(item.channels) + ["."])
        if isinstance(item, ast.Retention):
            return ["Retention of "] + self.data(item.data) + [": “" + item.period + "”."]
        if isinstance(item, ast.Security):
            return ["Security measures: "] + _join_quoted(item.measures) + ["."]
        if getattr(item, "kind", None) == "invariant":
            return self.invariant(item)
        # a statement this module does not know yet: its text as written
        span = getattr(item, "span", None)
        text = source.text[span.start:span.end] if span else str(item)
        kind = getattr(item, "kind", "statement")
        return [f"{str(kind).capitalize()}: ", code(" ".join(text.split()))]


def _join_quoted(texts: Iterable[str]) -> list[Inline]:
    texts = list(texts)
    return [", ".join(f"“{t}”" for t in texts)]


def _line(source: Source, node: object) -> int | None:
    span = getattr(node, "span", None)
    return source.position(span.start)[0] if span is not None else None


# ---- coverage ---------------------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    """Case- and punctuation-blind words: `E-mail` and `e-mail,` are both `e mail`."""
    return re.findall(r"[a-z0-9@]+", text.lower().replace("’", "'"))


def _grams(words: list[str], k: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


@dataclass
class Sentence:
    heading: str | None  # the heading path, "Website / Marketing"; None before the first heading
    text: str
    line: int  # line in the published text
    status: str = "uncited"  # encoded | noted | uncited
    quoted: float = 0.0  # share of its words found in citing notes
    cited_by: list[int] = field(default_factory=list)  # policy lines


@dataclass
class Coverage:
    sentences: list[Sentence]
    headings: list[tuple[str, bool]]  # heading path in the text, cited by a section?
    unknown_sections: list[str]  # section titles that name no heading of the text

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.sentences)

    @property
    def figure(self) -> float:
        return self.count("encoded") / len(self.sentences) if self.sentences else 0.0

    def summary(self) -> str:
        n = len(self.sentences)
        enc, noted, unc = self.count("encoded"), self.count("noted"), self.count("uncited")
        return (f"{enc} of {n} sentences encoded ({self.figure:.0%}); {noted} noted as not encodable; "
                f"{unc} not cited")

    def to_dict(self) -> dict[str, object]:
        return {
            "sentences": len(self.sentences), "encoded": self.count("encoded"), "noted": self.count("noted"),
            "uncited": self.count("uncited"), "figure": round(self.figure, 4),
            "headings_cited": sum(c for _, c in self.headings), "headings": len(self.headings),
            "unknown_sections": self.unknown_sections,
        }


def _norm(text: str) -> str:
    return " ".join(words_of(text))


_ABBREVIATIONS = {"i.e", "e.g", "etc", "inc", "ltd", "co", "no", "vs", "mr", "ms", "dr"}


def split_sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in re.finditer(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(])", text):
        chunk = text[start:m.start()].split()
        before = re.sub(r"^\W+", "", chunk[-1]).rstrip(".").lower() if chunk else ""
        if before in _ABBREVIATIONS:
            continue
        out.append(text[start:m.start()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if words_of(s)]


def published_sentences(text: str, titles: Iterable[str]) -> tuple[list[Sentence], list[str]]:
    """The published text as (heading path, sentence) pairs, and the heading paths found."""
    titles = list(titles)
    known = {_norm(t): t for t in titles}
    tops = {_norm(t.split(" / ")[0]): t.split(" / ")[0] for t in titles}
    top: str | None = None
    path: str | None = None
    sentences: list[Sentence] = []
    headings: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not words_of(line):
            continue
        key = _norm(line)
        if key in tops:
            top = path = tops[key]
            headings.append(path)
            continue
        if top is not None and _norm(f"{top} / {line}") in known:
            path = known[_norm(f"{top} / {line}")]
            headings.append(path)
            continue
        if line.startswith("- ") or line.startswith("• "):
            line = line[2:]
        for s in split_sentences(line):
            sentences.append(Sentence(path, s, number))
    return sentences, headings


def _literals(item: object) -> list[str]:
    if isinstance(item, ast.Right):
        return list(item.channels)
    if isinstance(item, ast.Retention):
        return [item.period]
    if isinstance(item, ast.Security):
        return list(item.measures)
    return []


def coverage(policy: ast.PolicyFile, source: Source, published: str) -> Coverage:
    titles = [s.title for s in policy.sections]
    sentences, heading_paths = published_sentences(published, titles)
    all_notes = notes(policy, source)
    statements: dict[int, list[int]] = {}  # note start -> policy lines of the statements below it
    by_section: dict[str | None, list[tuple[Note, list[int]]]] = {}
    for i, note in enumerate(all_notes):
        following = all_notes[i + 1].start if i + 1 < len(all_notes) else len(source.text)
        lines = []
        if note.section is not None:
            for item in note.section.items:
                span = getattr(item, "span", None)
                if span and note.start < span.start < following and not isinstance(item, ast.Expectation):
                    lines.append(source.position(span.start)[0])
        statements[note.start] = lines
        key = note.section.title if note.section else None
        by_section.setdefault(_norm(key) if key else None, []).append((note, lines))
    literals: dict[str | None, list[tuple[str, int]]] = {}
    for s in policy.sections:
        for item in s.items:
            for lit in _literals(item):
                literals.setdefault(_norm(s.title), []).append((lit, _line(source, item) or 0))
    if policy.meta is not None:
        meta_line = _line(source, policy.meta) or 1
        for lit in (policy.meta.controller, policy.meta.contact):
            if lit:
                literals.setdefault(None, []).append((lit, meta_line))
        if policy.meta.updated is not None:
            d = policy.meta.updated
            literals.setdefault(None, []).append((f"{d:%B} {d.day}, {d.year}", meta_line))

    for sentence in sentences:
        key = _norm(sentence.heading) if sentence.heading else None
        words = words_of(sentence.text)
        k = min(CITATION_WORDS, len(words))
        grams = [tuple(words[i:i + k]) for i in range(len(words) - k + 1)]
        covered = [False] * len(words)
        cited_note = cited_noted = False
        for note, lines in by_section.get(key, []):
            note_grams = _grams(words_of(note.text), k)
            hit = False
            for i, g in enumerate(grams):
                if g in note_grams:
                    hit = True
                    covered[i:i + k] = [True] * k
            if hit:
                if note.not_encodable:
                    cited_noted = True
                else:
                    cited_note = True
                    sentence.cited_by.extend(lines or [note.line])
        norm_sentence = " " + " ".join(words) + " "
        for lit, line in literals.get(key, []):
            lit_words = words_of(lit)
            if (len(lit_words) >= 2 or "@" in lit) and " " + " ".join(lit_words) + " " in norm_sentence:
                cited_note = True
                sentence.cited_by.append(line)
        sentence.cited_by = sorted(set(sentence.cited_by))
        sentence.quoted = sum(covered) / len(words) if words else 0.0
        sentence.status = "encoded" if cited_note else "noted" if cited_noted else "uncited"

    cited_titles = {_norm(t) for t in titles}
    headings = [(h, _norm(h) in cited_titles or any(t.startswith(_norm(h) + " ") for t in cited_titles))
                for h in dict.fromkeys(heading_paths)]
    found = {_norm(h) for h in heading_paths}
    unknown = [t for t in dict.fromkeys(titles) if _norm(t) not in found]
    return Coverage(sentences, headings, unknown)


# ---- the document -----------------------------------------------------------------------------

STATUS_MARK = {"encoded": "✔ encoded", "noted": "◐ noted", "uncited": "✘ not cited"}


def _anchor(text: str) -> str:
    return "-".join(words_of(text)) or "section"


def document(policy: ast.PolicyFile, source: Source, published: str | None = None,
             published_name: str | None = None) -> list[Block]:
    w = Words(policy)
    meta = policy.meta
    title = meta.name if meta else source.path
    blocks: list[Block] = [Heading(1, [title])]
    facts: list[Inline] = []
    if meta is not None:
        if meta.controller:
            facts += [strong("Controller:"), " " + meta.controller + ". "]
        if meta.contact:
            facts += [strong("Contact:"), " " + meta.contact + ". "]
        if meta.updated:
            facts += [strong("Last updated:"), f" {meta.updated:%B} {meta.updated.day}, {meta.updated.year}. "]
    facts += [strong("Encoded in:"), " ", code(source.path), "."]
    blocks.append(Para(facts))

    rules = policy.rules()
    items = [item for s in policy.sections for item in s.items]
    count = {k: sum(getattr(i, "kind", "") == k for i in items) for k in ("expect", "right", "invariant")}
    allows = sum(r.effect == "allow" for _, r in rules)
    counts = [(len(policy.sections), "section"), (len(rules), "rule"), (count["expect"], "test"),
              (count["invariant"], "invariant"), (count["right"], "right")]
    parts = [f"{n} {word}{'s' * (n != 1)}" for n, word in counts if n or word in ("section", "rule")]
    parts[1] += f" ({allows} allow, {len(rules) - allows} deny)"
    summary = ", ".join(parts) + "."
    blocks.append(Para([summary]))
    blocks.append(Para([
        "How to read it: a use of personal data is allowed only if a rule below allows it and no rule forbids "
        "it (a prohibition always wins; anything no rule allows is refused). Quoted passages are the notes of "
        "the people who encoded the policy, citing the published text. Each ",
        em("Test"), " is a question with the answer the policy must give, and each ", strong("Promise"),
        " holds for every question it covers; `policy-engine test` checks them all."]))

    cov = coverage(policy, source, published) if published is not None else None
    if cov is not None:
        blocks.append(Heading(2, ["Coverage of the published text"], "coverage"))
        n = len(cov.sentences)
        blocks.append(Para([strong(f"{cov.figure:.0%}"), " of the sentences of ",
                            code(published_name or "the published text"),
                            f" are encoded: {cov.count('encoded')} of {n}. {cov.count('noted')} more are noted as "
                            f"not encodable, and {cov.count('uncited')} are not cited."], css="figure"))
        cited = sum(c for _, c in cov.headings)
        text = [f"{cited} of {len(cov.headings)} headings of the text are cited by a section."]
        if cov.unknown_sections:
            text += [" Sections citing no heading of the text: "]
            for i, t in enumerate(cov.unknown_sections):
                text += ([", "] if i else []) + [code(t)]
            text.append(".")
        blocks.append(Para(text))
        blocks.append(Para([
            "A sentence is ", strong("encoded"), " when a note in the section citing its heading quotes eight "
            "consecutive words of it (all of it, if shorter) or a statement there contains one of its texts; ",
            strong("noted"), " when only a “not encodable” note quotes it; ", strong("not cited"),
            " otherwise. The sentence-by-sentence list is at the end."]))

    note_list = notes(policy, source)
    blocks.append(Heading(2, ["The policy, section by section"], "sections"))
    for section in policy.sections:
        blocks.append(Heading(3, [section.title], _anchor(section.title)))
        entries: list[tuple[int, object]] = [(n.start, n) for n in note_list if n.section is section]
        entries += [(getattr(i, "span").start if getattr(i, "span", None) else 0, i) for i in section.items]
        entries.sort(key=lambda e: e[0])
        bullets: list[list[Inline]] = []
        for _, entry in entries:
            if isinstance(entry, Note):
                if bullets:
                    blocks.append(Bullets(bullets))
                    bullets = []
                blocks.append(Quote([[entry.text]]))
            else:
                line = _line(source, entry)
                bullets.append(w.item(entry, source) + ([f" (line {line})"] if line else []))
        if bullets:
            blocks.append(Bullets(bullets))
        if not section.items:
            blocks.append(Para([em("No statements.")]))

    blocks.append(Heading(2, ["Terms"], "terms"))
    blocks.append(Para(["The words the rules use. A dotted id is a narrower kind of its parent: a rule on ",
                        code("marketing"), " also covers ", code("marketing.newsletter"), "."]))
    for kind, heading in (("data", "Data"), ("source", "Sources"), ("purpose", "Purposes"),
                          ("recipient", "Recipients"), ("fact", "Facts (conditions a caller can assert)")):
        decls = [t for t in policy.terms if t.kind == kind]
        if decls:
            blocks.append(Heading(3, [heading], "terms-" + kind))
            blocks.append(Table(["id", "meaning"], [[[code(t.id)], [t.label]] for t in decls]))

    if cov is not None:
        blocks.append(Heading(2, ["The published text, sentence by sentence"], "sentences"))
        current: object = object()
        rows: list[list[list[Inline]]] = []
        css: list[str | None] = []

        def flush() -> None:
            if rows:
                blocks.append(Table(["status", "sentence", "cited by (policy lines)"], list(rows), list(css)))
                rows.clear()
                css.clear()

        for s in cov.sentences:
            if s.heading != current:
                flush()
                current = s.heading
                blocks.append(Heading(3, [s.heading or "Opening lines"]))
            where: list[Inline] = [", ".join(str(n) for n in s.cited_by)] if s.cited_by else ["—"]
            if s.status != "uncited" and s.quoted < 0.995:
                where.append(f" ({s.quoted:.0%} of its words quoted)")
            rows.append([[STATUS_MARK[s.status]], [s.text], where])
            css.append(s.status)
        flush()
    return blocks


def render(policy: ast.PolicyFile, source: Source, fmt: str = "markdown", published: str | None = None,
           published_name: str | None = None) -> str:
    """The policy as a document for lawyers; with `published`, the coverage view too."""
    blocks = document(policy, source, published, published_name)
    if fmt == "html":
        return to_html(blocks, policy.meta.name if policy.meta else source.path)
    if fmt == "markdown":
        return to_markdown(blocks)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
