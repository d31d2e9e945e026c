"""The fast path's readers of the statements for real policies (rights with conditions, deadlines,
limits and exceptions; the statements that decide nothing). In: the token stream of fast_parse's
_Reader, whose helpers (take, kept, skip, condition, term_list, action, ref, span) these methods
use. Out: AST nodes, or Decline. Apart from fast_parse.py so each module stays small; the same
rule holds here: read what the tree path reads, and decline anything else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from policy_engine.language import ast
from policy_engine.language.ast_builder import unescape


class Decline(Exception):
    """The fast path leaves this text to the tree path (which is always right)."""


def _text(value: str) -> str:
    return value[1:-1] if "\\" not in value else unescape(value)


class ItemReader:
    """Mixed into fast_parse._Reader."""

    take: Any
    kept: Any
    skip: Any
    peek: Any
    condition: Any
    term_list: Any
    action: Any
    ref: Any
    span: Any

    def right(self) -> ast.Right:
        self.take("RIGHT")
        name = self.ref()
        fields: dict[str, object] = {}
        if self.skip("IF"):
            fields["condition"] = self.condition()[0]
        self.take("VIA")
        channels = [_text(self.kept("STRING")[1])]
        while self.skip("COMMA"):
            channels.append(_text(self.kept("STRING")[1]))
        if self.skip("WITHIN"):
            fields["deadline"] = self.duration()
            if self.skip("EXTENDED"):
                self.take("BY")
                fields["extension"] = self.duration()
        if self.skip("AT"):
            self.take("MOST")
            fields["limit"] = int(self.kept("INT")[1])
            self.take("PER")
            fields["per"] = self.duration()
        exceptions = []
        while self.skip("EXCEPT"):
            action = self.action()
            purposes = self.term_list() if self.skip("FOR") else ()
            exceptions.append(ast.RightException(action=action[1], purposes=purposes,
                                                 span=self.span("right_except", action[2])))
        assert name.span is not None
        return ast.Right(right=name, channels=tuple(channels), exceptions=tuple(exceptions),
                         span=self.span("right", name.span.start), **fields)  # type: ignore[arg-type]

    def time_limit(self) -> ast.TimeLimit:
        """`within 30 days after account_closed`, `after 2 years`."""
        form = self.take(self.peek())[1]
        duration = self.duration()
        anchor = self.ref() if self.skip("AFTER") else None
        assert duration.span is not None
        return ast.TimeLimit(form=form, duration=duration, anchor=anchor,
                             span=self.span(form + "_limit", duration.span.start))

    def elapsed(self, anchor: tuple[str, str, int, int]) -> ast.FactRef:
        """After the anchor's name: `less than 30 days ago`, a time limit's atom."""
        from policy_engine.language.timelimits import atom_name

        self.take("LESS")
        self.take("THAN")
        duration = self.duration()
        self.kept("AGO")
        return ast.FactRef(name=atom_name(anchor[1], duration), span=self.span("elapsed_ref", anchor[2]))

    def given_facts(self) -> tuple[tuple[ast.TermRef, ...], tuple[tuple[str, ast.Duration], ...]]:
        """`a, b 10 days ago`: the facts listed, and the ages of those that have one."""
        facts, ages = [], []
        while True:
            ref = self.ref()
            facts.append(ref)
            if self.peek() == "INT":
                ages.append((ref.id, self.duration()))
                self.kept("AGO")
            if not self.skip("COMMA"):
                return tuple(facts), tuple(ages)

    def duration(self) -> ast.Duration:
        count = self.kept("INT")
        unit = self.kept("UNIT")
        return ast.Duration(count=int(count[1]), unit=unit[1].rstrip("s"), span=self.span("duration", count[2]))  # type: ignore[arg-type]

    def note(self) -> ast.Note:
        word = self.kept(self.peek())
        fields: dict[str, object] = {}
        if word[0] == "NOTE_WORD":
            fields["text"] = _text(self.kept("STRING")[1])
            if self.skip("IF"):
                fields["condition"] = self.condition()[0]
        elif word[0] == "CONTROLLING":
            self.take("LANGUAGE")
            fields["text"] = _text(self.kept("STRING")[1])
        else:
            date = self.kept("DATE")
            try:
                fields["date"] = dt.date.fromisoformat(date[1])
            except ValueError:
                raise Decline(date[2]) from None  # parse.invalid_date
            if word[0] == "VERSION" and self.peek() == "STRING":
                fields["text"] = _text(self.kept("STRING")[1])
        topic = "controlling_language" if word[0] == "CONTROLLING" else word[1]
        return ast.Note(topic=topic, span=self.span("note", word[2]), **fields)  # type: ignore[arg-type]

    def changes(self) -> ast.ChangeNotice:
        self.take("CHANGES")
        self.take("NOTICE")
        notice = self.duration()
        channels = []
        if self.skip("VIA"):
            channels.append(_text(self.kept("STRING")[1]))
            while self.skip("COMMA"):
                channels.append(_text(self.kept("STRING")[1]))
        assert notice.span is not None
        return ast.ChangeNotice(notice=notice, channels=tuple(channels), span=self.span("changes", notice.span.start))

    def audience(self) -> ast.Audience:
        self.take("AUDIENCE")
        cond, first, _ = self.condition()
        return ast.Audience(condition=cond, span=self.span("audience", first))
