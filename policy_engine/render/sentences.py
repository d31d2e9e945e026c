"""The policy's statements in plain words, for a reader who is not an engineer.

Rules read "We may use ... for ..., only if ...", promises (invariants) "We promise: ...",
tests "May we ...? The answer must be: yes.", all with the labels the policy declares;
rules also show each term's id, so a reader can find it in the policy text. The words avoid
the engine's jargon: a question asked "with facts unknown" is asked "not knowing which of
the conditions hold", a "conditional" answer is "only if ...".

Rules that differ only in their recipients (Open-E's four "share ... with
service_provider.X") are one sentence naming the group and its members.
"""

from __future__ import annotations

import re
from typing import Iterable

from policy_engine.engine import words
from policy_engine.language import ast, timelimits
from policy_engine.render.model import Inline, code, em, strong

# GDPR Art. 6(1): the legal bases in words, with their point.
BASES: dict[str, str] = {
    "consent": "consent (GDPR Art. 6(1)(a))",
    "contract": "a contract with the person (GDPR Art. 6(1)(b))",
    "legal_obligation": "a legal obligation (GDPR Art. 6(1)(c))",
    "vital_interests": "vital interests (GDPR Art. 6(1)(d))",
    "public_task": "a task in the public interest (GDPR Art. 6(1)(e))",
    "legitimate_interests": "legitimate interests (GDPR Art. 6(1)(f))",
}
VERBS = {"collect": "collect", "use": "use", "share": "share", "retain": "keep"}


def labeled(requirement: object, fact_labels: dict[str, str]) -> str:
    """A requirement in the engine's words (engine.words.condition), each fact by its label:
    `“Ticked the box” or not “Withdrew consent”`."""
    text = words.condition(requirement)
    return re.sub(r"[A-Za-z_][\w.]*", lambda m: f"“{fact_labels[m[0]]}”" if m[0] in fact_labels else m[0], text)


def basis_words(basis: str) -> str:
    return BASES.get(basis, basis.replace("_", " "))


def right_words(right: str) -> str:
    return right.replace("_", " ")


class Words:
    """Labels for term ids, and the plain-words form of the policy's statements."""

    def __init__(self, policy: ast.PolicyFile):
        self.labels = {(t.kind, t.id): t.label for t in policy.terms}
        self.parents = {(t.kind, t.id): t.id.rsplit(".", 1)[0] for t in policy.terms if "." in t.id}

    def short(self, kind: str, term_id: str) -> str | None:
        """A label up to its first `:` or `(`: "Contacting us: e-mail, ..." reads "Contacting us"."""
        label = self.labels.get((kind, term_id))
        return re.split(r":| \(", label, maxsplit=1)[0].strip() if label else None

    def term(self, kind: str, ref: ast.TermRef | str, ids: bool = True) -> list[Inline]:
        term_id = ref if isinstance(ref, str) else ref.id
        label = self.short(kind, term_id)
        if label is None:
            return [code(term_id)]
        return [label, " (", code(term_id), ")"] if ids else [label]

    def verb(self, action: str) -> list[Inline]:
        """The verb of an action; a sub-action (`share.sell`) is its base action's verb naming the
        sub-action by its label, since a lawyer reads "share, as a sale (`share.sell`), ..."."""
        base = action.split(".", 1)[0]
        if action == base:
            return [VERBS[base], " "]
        return [VERBS[base], ", as "] + self.term("action", action) + [", "]

    def terms(self, kind: str, refs: Iterable[ast.TermRef | str], word: str, ids: bool = True) -> list[Inline]:
        refs = list(refs)
        names = [self.short(kind, r if isinstance(r, str) else r.id) or "" for r in refs]
        comma = "; " if any("," in n for n in names) else ", "
        out: list[Inline] = []
        for i, ref in enumerate(refs):
            if i:
                out.append(f" {word} " if i == len(refs) - 1 else comma)
            out.extend(self.term(kind, ref, ids))
        return out

    def data(self, data: Iterable[ast.TermRef | str] | None, ids: bool = True) -> list[Inline]:
        return ["all personal data"] if data is None else self.terms("data", data, "and", ids)

    def fact(self, name: str, ids: bool = True) -> list[Inline]:
        read = timelimits.read_atom(name)
        if read is not None:  # a time limit: `account_closed less than 30 days ago`
            anchor, duration = read
            since = [f"collected less than {duration.text()} ago"] if anchor == timelimits.COLLECTED else \
                self.fact(anchor, ids) + [f" less than {duration.text()} ago"]
            return since
        label = self.labels.get(("fact", name))
        if label is None:
            return [code(name)]
        return [f"“{label}”", " (", code(name), ")"] if ids else [f"“{label}”"]

    def condition(self, cond: ast.Condition, nested: bool = False, ids: bool = True) -> list[Inline]:
        if isinstance(cond, ast.FactRef):
            return self.fact(cond.name, ids)
        if isinstance(cond, ast.Not):
            if isinstance(cond.operand, ast.Or):
                out: list[Inline] = [strong("neither"), " "]
                for i, o in enumerate(cond.operand.operands):
                    if i:
                        out += [" ", strong("nor"), " "]
                    out += self.condition(o, True, ids)
                return out
            return [strong("not"), " "] + self.condition(cond.operand, True, ids)
        word = "and" if isinstance(cond, ast.And) else "or"
        out = ["("] if nested else []
        for i, o in enumerate(cond.operands):
            if i:
                out += [" ", strong(word), " "]
            out += self.condition(o, True, ids)
        return out + ([")"] if nested else [])

    # ---- rules -----------------------------------------------------------------------

    def rule(self, rule: ast.Rule, recipients: list[Inline] | None = None) -> list[Inline]:
        """`recipients`: the words for a group of recipients (see `rule_group`)."""
        if rule.effect == "allow":
            modal = ["We ", strong("may"), " "]
        elif rule.condition is None and rule.time is None:
            modal = ["We ", strong("never"), " "]
        else:
            modal = ["We ", strong("do not"), " "]
        out: list[Inline] = modal + self.verb(rule.action) + self.data(rule.data)
        src = self.terms("source", rule.sources, "or")
        pur = self.terms("purpose", rule.purposes, "or")
        rec = recipients if recipients is not None else self.terms("recipient", rule.recipients, "or")
        base = rule.action.split(".", 1)[0]
        if base == "collect":
            out += [" from "] + src if src else [" from any source"]
            out += [" for "] + pur if pur else []
            out += [" through "] + rec if rec else []
        elif base == "share":
            out += [" collected from "] + src if src else []
            out += [" with "] + rec if rec else [" with anyone"]
            out += [" for "] + pur if pur else []
        else:
            out += [" collected from "] + src if src else []
            out += [" for "] + pur if pur else [" for any purpose"]
            out += [" with "] + rec if rec else []
        if rule.destinations:  # a transfer: where the data goes, and what it relies on
            out += [" in "] + self.terms("region", rule.destinations, "or")
        if rule.safeguard is not None:
            out += [", relying on "] + self.term("safeguard", rule.safeguard)
        if rule.time is not None:  # `for 90 days after collection`, `from 2 years after collection`
            limit = rule.time
            anchor = ["collection"] if limit.anchor is None else self.fact(limit.anchor.id)
            out += [", ", strong("for" if limit.form == "within" else "from"), f" {limit.duration.text()} after "]
            out += anchor
        if rule.condition is not None:
            out += [", ", strong("only if") if rule.effect == "allow" else strong("when"), " "]
            out += self.condition(rule.condition)
        out.append(".")
        if rule.basis is not None:
            out += [" ", em("Legal basis: " + basis_words(rule.basis.id) + ".")]
        return out

    def rule_group(self, rules: list[ast.Rule]) -> list[Inline]:
        """Rules alike but for their recipients, as one sentence: "with our service providers
        (`service_provider`): order fulfillment, payment processing and e-mail delivery"."""
        members = [r.id for rule in rules for r in rule.recipients]
        parents = {self.parents.get(("recipient", m)) for m in members}
        recipients: list[Inline] = []
        if len(parents) == 1 and None not in parents:
            parent = parents.pop()
            assert parent is not None
            recipients += self.term("recipient", parent) + [", namely "]
            recipients += self.terms("recipient", members, "and", ids=False)
        else:
            recipients += self.terms("recipient", members, "and")
        return self.rule(rules[0], recipients)

    # ---- promises and tests ------------------------------------------------------------

    def scope(self, item: ast.Invariant) -> list[Inline]:
        out: list[Inline] = self.verb(item.action)
        out += ["any personal data"] if item.data is None else self.terms("data", item.data, "or", ids=False)
        for word, kind, refs in (("collected from", "source", item.sources), ("for", "purpose", item.purposes),
                                 ("with", "recipient", item.recipients), ("in", "region", item.destinations)):
            if refs:
                out += [f" {word} "] + self.terms(kind, refs, "or", ids=False)
        return out

    def invariant(self, item: ast.Invariant) -> list[Inline]:
        out: list[Inline] = [strong("We promise"), " (checked for every possible case): "]
        if item.form == "never":
            out += ["we never "] + self.scope(item) + ["."]
        elif item.form == "every":
            basis = basis_words(item.basis.id) if item.basis else "?"
            out += ["whenever we "] + self.scope(item) + [", the legal basis is ", strong(basis), "."]
        else:
            out += ["we do not "] + self.scope(item)
            if item.without is not None:
                if item.without.id in ast.LEGAL_BASES:
                    out += [" without the legal basis ", strong(basis_words(item.without.id))]
                else:
                    out += [" unless "] + self.fact(item.without.id, ids=False)
            if item.exceptions:
                out += [", except "] + self.terms("data", item.exceptions, "and", ids=False)
            if item.unless is not None:
                out += [" unless "] + self.condition(item.unless, ids=False)
            if item.safeguards:
                out += [" except relying on "] + self.terms("safeguard", item.safeguards, "or", ids=False)
            out.append(".")
        return out

    def question(self, q: ast.Query) -> list[Inline]:
        """The question as engine.words writes it, with labels for ids ("use of E-mail address
        from Forum for Marketing"), and what is known of the facts in plain words."""
        fields: dict[str, str | None] = {"action": q.action, "data": self.short("data", q.data.id) or q.data.id}
        for kind, ref in (("source", q.source), ("purpose", q.purpose), ("recipient", q.recipient)):
            fields[kind] = None if ref is None else self.short(kind, ref.id) or ref.id
        out: list[Inline] = [words.question(fields, facts=False)]
        if q.collected is not None:
            out.append(f" collected {q.collected.text()} ago")
        ages = dict(q.ages)
        if q.facts is None:
            out.append(", not knowing which of the conditions hold")
        elif not q.facts:
            out.append(", when none of the conditions holds")
        else:
            out.append(", when ")
            for i, f in enumerate(q.facts):
                out += ([" and " if i == len(q.facts) - 1 else ", "] if i else []) + self.fact(f.id, ids=False)
                if f.id in ages:
                    out.append(f" (for {ages[f.id].text()})")
            out.append(" hold" if len(q.facts) > 1 else " holds")
            out.append(" (and no other condition)")
        return out

    def expectation(self, item: ast.Expectation) -> list[Inline]:
        """"Test: use of ... : the answer must be allowed only if “...”." (engine.words.answer)."""
        facts = {k[1]: v for k, v in self.labels.items() if k[0] == "fact"}
        requires = None if item.requires is None else labeled(item.requires, facts)
        answer = words.answer(item.decision, requires if requires is not None else "a condition holds")
        lasting = [] if item.lasting is None else [f", for {item.lasting.text()} more"]
        return [strong("Test:"), " "] + self.question(item.query) + [": the answer must be ", strong(answer)] \
            + lasting + ["."]

    def item(self, item: object, source_text: str) -> list[Inline]:
        if isinstance(item, ast.Rule):
            return self.rule(item)
        if isinstance(item, ast.Expectation):
            return self.expectation(item)
        if isinstance(item, ast.Right):
            return (["You have the right of ", strong(right_words(item.right.id)), "; use it through "]
                    + _quoted(item.channels) + ["."])
        if isinstance(item, ast.Retention):
            return ["We keep "] + self.data(item.data) + [": “" + item.period + "”."]
        if isinstance(item, ast.Security):
            return ["Security measures: "] + _quoted(item.measures) + ["."]
        if isinstance(item, ast.Invariant):
            return self.invariant(item)
        # a statement this module does not know yet: its text as written
        span = getattr(item, "span", None)
        text = source_text[span.start:span.end] if span else str(item)
        kind = getattr(item, "kind", "statement")
        return [f"{str(kind).capitalize()}: ", code(" ".join(text.split()))]


def _quoted(texts: Iterable[str]) -> list[Inline]:
    return [", ".join(f"“{t}”" for t in texts)]


def groupable(a: ast.Rule, b: ast.Rule) -> bool:
    """Whether two rules say the same but for their recipients (each naming some)."""
    if not (a.recipients and b.recipients):
        return False
    same = ("effect", "action", "data", "sources", "purposes", "condition", "basis", "destinations", "safeguard")
    return all(getattr(a, f) == getattr(b, f) for f in same)
