"""Checked policy -> the document for lawyers (a model.Document). In: ast.PolicyFile, its Source,
optionally the published text and its coverage. Out: blocks the writers turn into Markdown or
HTML (render.writers).

Each section's statements become plain sentences (render.sentences) beside the encoder's
notes (render.notes), whose quotes of the published text are kept apart from the encoder's own
words; every statement links to its line in the source view. With the published text, the
coverage view (render.coverage) says which of its sentences the policy cites.
"""

from __future__ import annotations

import re

from policy_engine.language import ast
from policy_engine.language.source import Source
from policy_engine.render.coverage import Coverage, coverage, published_sentences, split_sentences, words_of
from policy_engine.render.model import (Block, Bullets, Document, Heading, Inline, NoteBlock, Para, Table, code,
                                        em, lines_ref, strong)
from policy_engine.render.notes import Note, notes, split_quotes
from policy_engine.render.sentences import Words, groupable
from policy_engine.render.writers import FORMATS, to_html, to_markdown

__all__ = ["Coverage", "FORMATS", "coverage", "document", "published_sentences", "render", "split_sentences"]

STATUS_MARK = {"encoded": "✔ encoded", "noted": "◐ noted", "uncited": "✘ not cited"}
TERM_HEADINGS = (("data", "Personal data"), ("source", "Where the data comes from"), ("purpose", "Purposes"),
                 ("recipient", "Recipients"), ("fact", "Conditions (consents, requests and events on record)"))


def anchor(text: str) -> str:
    return "-".join(words_of(text)) or "section"


def _line(source: Source, node: object) -> int | None:
    span = getattr(node, "span", None)
    return source.position(span.start)[0] if span is not None else None


def note_block(note: Note) -> NoteBlock:
    """The note's runs; a `not encodable` note loses those words (the writers label it)."""
    parts: list[Inline] = [("quote", text) if quoted else text for quoted, text in split_quotes(note.text)]
    if note.not_encodable and parts and isinstance(parts[0], str):
        rest = parts[0][len("not encodable"):].lstrip(" :")
        parts = ([rest] if rest.strip() else []) + parts[1:]
    # `...: - "a" - "b" (see X) - "c"`: the encoder's own list of quotes, one item each
    paragraphs: list[list[Inline]] = [[]]
    for part in parts:
        if isinstance(part, str) and re.search(r"(^|\s)-\s*$", part):
            head = re.sub(r"\s*-\s*$", "", part)
            if head.strip():
                paragraphs[-1].append(head)
            paragraphs.append([])
        else:
            paragraphs[-1].append(part)
    paragraphs = [p for p in paragraphs[:1] + [p for p in paragraphs[1:] if p]]
    return NoteBlock(paragraphs[0], note.not_encodable, note.line, paragraphs[1:])


def document(policy: ast.PolicyFile, source: Source, coverage: Coverage | None = None,
             published_name: str | None = None) -> Document:
    """The whole document; `coverage` (computed once by the caller) adds the coverage view."""
    w = Words(policy)
    meta = policy.meta
    title = meta.name if meta else source.path
    blocks: list[Block] = [Heading(1, [title])]
    blocks += _opening(policy, source)
    if coverage is not None:
        blocks += _coverage_summary(coverage, published_name)
    blocks.append(Heading(2, ["The policy, section by section"], "sections"))
    all_notes = notes(policy, source)
    for section in policy.sections:
        blocks.append(Heading(3, [section.title], "section-" + anchor(section.title)))
        blocks += _section(section, [n for n in all_notes if n.section is section], source, w)
    blocks.append(Heading(2, ["Terms"], "terms"))
    blocks.append(Para(["The words the rules use. A dotted id is a narrower kind of its parent: a rule on ",
                        code("marketing"), " also covers ", code("marketing.newsletter"), "."]))
    for kind, heading in TERM_HEADINGS:
        decls = [t for t in policy.terms if t.kind == kind]
        if decls:
            blocks.append(Heading(3, [heading], "terms-" + kind))
            blocks.append(Table(["id", "meaning", "declared"],
                                [[[code(t.id)], [t.label], lines_ref([_line(source, t) or 0])] for t in decls]))
    if coverage is not None:
        blocks += _coverage_sentences(coverage)
    return Document(title, blocks, source.path, source.text.splitlines())


def _opening(policy: ast.PolicyFile, source: Source) -> list[Block]:
    meta = policy.meta
    facts: list[Inline] = []
    if meta is not None:
        if meta.controller:
            facts += [strong("Controller:"), " " + meta.controller + ". "]
        if meta.contact:
            facts += [strong("Contact:"), " " + meta.contact + ". "]
        if meta.updated:
            facts += [strong("Last updated:"), f" {meta.updated:%B} {meta.updated.day}, {meta.updated.year}. "]
    facts += [strong("Encoded in:"), " ", code(source.path), "."]
    rules = policy.rules()
    items = [item for s in policy.sections for item in s.items]
    count = {k: sum(getattr(i, "kind", "") == k for i in items) for k in ("expect", "right", "invariant")}
    allows = sum(r.effect == "allow" for _, r in rules)
    counts = [(len(policy.sections), "section"), (len(rules), "rule"), (count["expect"], "test"),
              (count["invariant"], "promise"), (count["right"], "right")]
    parts = [f"{n} {word}{'s' * (n != 1)}" for n, word in counts if n or word in ("section", "rule")]
    forbid = len(rules) - allows
    parts[1] += f" ({allows} that allow{'s' * (allows == 1)}, {forbid} that forbid{'s' * (forbid == 1)})"
    return [Para(facts), Para([", ".join(parts) + "."]), Para([
        "How to read it: we may use personal data only in the ways a rule below allows, and never in a way a "
        "rule forbids (a prohibition always wins; anything no rule allows is refused). Passages in quotation "
        "marks are the published text, quoted by the people who encoded the policy; their own remarks stand "
        "beside them. Each ", strong("Test"), " is a question with the answer the policy must give, and each ",
        strong("promise"), " holds in every possible case; the command ", code("policy-engine test"),
        " checks them all. Line numbers link to the policy text at the end."])]


def _coverage_summary(cov: Coverage, published_name: str | None) -> list[Block]:
    n = len(cov.sentences)
    out: list[Block] = [Heading(2, ["Coverage of the published text"], "coverage")]
    out.append(Para([strong(f"{cov.figure:.0%}"), " of the sentences of ", code(published_name or "the published text"),
                     f" are encoded: {cov.count('encoded')} of {n}. {cov.count('noted')} more are noted as "
                     f"not encodable, and {cov.count('uncited')} are not cited."], css="figure"))
    cited = sum(c for _, c in cov.headings)
    text: list[Inline] = [f"{cited} of {len(cov.headings)} headings of the text are cited by a section."]
    if cov.unknown_sections:
        text += [" Sections citing no heading of the text: "]
        for i, t in enumerate(cov.unknown_sections):
            text += ([", "] if i else []) + [code(t)]
        text.append(".")
    out.append(Para(text))
    out.append(Para([
        "A sentence is ", strong("encoded"), " when a note in the section citing its heading quotes eight "
        "consecutive words of it (all of it, if shorter) or a statement there contains one of its texts; ",
        strong("noted"), " when only a “not encodable” note quotes it; ", strong("not cited"),
        " otherwise. The sentence-by-sentence list is at the end."]))
    return out


def _section(section: ast.Section, section_notes: list[Note], source: Source, w: Words) -> list[Block]:
    """Notes and statements in their order; rules alike but for their recipients (and the notes
    between them) become one sentence."""
    entries: list[tuple[int, object]] = [(n.start, n) for n in section_notes]
    entries += [(getattr(i, "span").start if getattr(i, "span", None) else 0, i) for i in section.items]
    entries.sort(key=lambda e: e[0])
    objs = [e for _, e in entries]
    out: list[Block] = []
    bullets: list[list[Inline]] = []
    i = 0
    while i < len(objs):
        entry = objs[i]
        if isinstance(entry, Note):
            if bullets:
                out.append(Bullets(bullets))
                bullets = []
            out.append(note_block(entry))
            i += 1
            continue
        group, consumed = _group(objs, i)
        if len(group) > 1:
            if bullets:
                out.append(Bullets(bullets))
                bullets = []
            if consumed:  # the notes inside the group, together above its sentence
                joined = [note_block(n) for n in consumed]
                parts: list[Inline] = []
                for j, nb in enumerate(joined):
                    parts += ([" "] if j else []) + nb.parts
                out.append(NoteBlock(parts, all(n.not_encodable for n in consumed), consumed[0].line))
            lines = [n for n in (_line(source, r) for r in group) if n]
            out.append(Bullets([w.rule_group(group) + [" ("] + lines_ref(lines) + [")"]]))
            i += len(group) + len(consumed)
            continue
        line = _line(source, entry)
        bullets.append(w.item(entry, source.text) + ([" ("] + lines_ref([line]) + [")"] if line else []))
        i += 1
    if bullets:
        out.append(Bullets(bullets))
    if not section.items:
        out.append(Para([em("No statements.")]))
    return out


def _group(objs: list[object], i: int) -> tuple[list[ast.Rule], list[Note]]:
    """The rules from objs[i] on that `groupable` joins (notes may lie between them)."""
    first = objs[i]
    if not isinstance(first, ast.Rule):
        return [first], []  # type: ignore[list-item]
    group, notes_between, pending = [first], [], []
    for entry in objs[i + 1:]:
        if isinstance(entry, Note):
            pending.append(entry)
        elif isinstance(entry, ast.Rule) and groupable(first, entry):
            group.append(entry)
            notes_between += pending
            pending = []
        else:
            break
    return group, notes_between


def _coverage_sentences(cov: Coverage) -> list[Block]:
    out: list[Block] = [Heading(2, ["The published text, sentence by sentence"], "sentences")]
    current: object = object()
    rows: list[list[list[Inline]]] = []
    css: list[str | None] = []

    def flush() -> None:
        if rows:
            out.append(Table(["status", "sentence", "cited by"], list(rows), list(css)))
            rows.clear()
            css.clear()

    for s in cov.sentences:
        if s.heading != current:
            flush()
            current = s.heading
            out.append(Heading(3, [s.heading or "Opening lines"], "text-" + anchor(s.heading or "opening lines")))
        where: list[Inline] = lines_ref(s.cited_by) if s.cited_by else ["—"]
        if s.status != "uncited" and s.quoted < 0.995:
            where.append(f" ({s.quoted:.0%} of its words quoted)")
        rows.append([[STATUS_MARK[s.status]], [s.text], where])
        css.append(s.status)
    flush()
    return out


def render(policy: ast.PolicyFile, source: Source, fmt: str = "markdown", published: str | None = None,
           published_name: str | None = None, *, template: str | None = None,
           cov: Coverage | None = None) -> str:
    """The policy as a document for lawyers; with `published` (or its coverage `cov`, computed
    once by the caller), the coverage view too. `template`: an HTML template of one's own."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if cov is None and published is not None:
        cov = coverage(policy, source, published)
    doc = document(policy, source, cov, published_name)
    return to_html(doc, template) if fmt == "html" else to_markdown(doc)
