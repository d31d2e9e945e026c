"""Coverage of the published text: which sentences of it does the policy cite?

The matching is deliberately simple, so a reader can redo it by hand:

* The published text is split into headings and sentences. A line is a heading when a
  section of the policy cites it (section titles are heading paths: "Website / Marketing");
  every other line is split into sentences (a bullet is its own sentence).
* A note (a comment paragraph of the policy) *cites* a sentence when it lies in a section
  whose title is the sentence's heading path and quotes a run of at least eight consecutive
  words of it (the whole sentence when it is shorter), compared case- and punctuation-blind.
  Text before the first heading is cited by the notes above the first section.
* A literal text of a statement in that section (a right's channel, a retention period, a
  security measure; the contact and date for the opening lines) cites a sentence that
  contains it. The controller's name cites a sentence only when the sentence names it *as*
  the controller (it says "controller"): "ACME Inc. takes your privacy very seriously." only
  mentions ACME Inc.
* A sentence is **encoded** when a note or a statement cites it, **noted** when only a
  `# not encodable ...` note cites it (the encoder read it and said why no rule can say it),
  and **uncited** otherwise. The coverage figure is encoded sentences / all sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from policy_engine.language import ast
from policy_engine.language.source import Source
from policy_engine.render.notes import Note, notes

# A run of this many consecutive words of a sentence (normalised: `e-mail` is two), found in a
# note, cites the sentence.
CITATION_WORDS = 8

# The words that make a sentence name the controller as such (GDPR Art. 4(7)).
CONTROLLER_WORDS = ("controller",)


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


def _line(source: Source, node: object) -> int | None:
    span = getattr(node, "span", None)
    return source.position(span.start)[0] if span is not None else None


def _literals(item: object) -> list[str]:
    if isinstance(item, ast.Right):
        return list(item.channels)
    if isinstance(item, ast.Retention):
        return [item.period]
    if isinstance(item, ast.Security):
        return list(item.measures)
    return []


def coverage(policy: ast.PolicyFile, source: Source, published: str) -> Coverage:
    """Each sentence of `published` with its status and the policy lines citing it."""
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
    # (literal, its policy line, words the sentence must also say)
    literals: dict[str | None, list[tuple[str, int, tuple[str, ...]]]] = {}
    for s in policy.sections:
        for item in s.items:
            for lit in _literals(item):
                literals.setdefault(_norm(s.title), []).append((lit, _line(source, item) or 0, ()))
    if policy.meta is not None:
        meta_line = _line(source, policy.meta) or 1
        if policy.meta.controller:
            literals.setdefault(None, []).append((policy.meta.controller, meta_line, CONTROLLER_WORDS))
        if policy.meta.contact:
            literals.setdefault(None, []).append((policy.meta.contact, meta_line, ()))
        if policy.meta.updated is not None:
            d = policy.meta.updated
            literals.setdefault(None, []).append((f"{d:%B} {d.day}, {d.year}", meta_line, ()))

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
        for lit, line, also in literals.get(key, []):
            lit_words = words_of(lit)
            if also and not any(w in words for w in also):
                continue
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


