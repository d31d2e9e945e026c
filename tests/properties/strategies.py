"""Hypothesis strategies for random, well-formed `ast.PolicyFile` values.

Well-formed means what the parser can produce: ids are TERM_IDs whose dot-separated parts are
not keywords of the grammar; strings hold no newline; And/Or have >= 2 operands and never
directly contain their own operator (the parser flattens `a and (b and c)`); `requires` only
follows `expect conditional`.
"""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

from policy_engine.language import ast, timelimits
from policy_engine.language.grammar import grammar_text, lark_parser

# Keywords as of this writing; the grammar is read below too, so new keywords are excluded
# automatically.
_KNOWN_KEYWORDS = {
    "policy", "controller", "contact", "updated", "data", "source", "purpose", "recipient", "fact",
    "section", "allow", "deny", "collect", "use", "share", "retain", "of", "all", "from", "for", "with",
    "to", "if", "basis", "or", "and", "not", "expect", "conditional", "given", "nothing", "requires",
    "right", "via", "retention", "security",
}


def grammar_keywords() -> frozenset[str]:
    """Every word the lexer may read as something other than a TERM_ID."""
    words = set(_KNOWN_KEYWORDS)
    words.update(re.findall(r'"([A-Za-z_]+)"', grammar_text()))
    for term in lark_parser().terminals:
        pattern = term.pattern.value
        if term.pattern.type == "str":
            if re.fullmatch(r"[A-Za-z_]+", pattern):
                words.add(pattern)
        elif r"\b" in pattern:  # keyword-style regex terminals: /(allow|deny)\b/, /all\s+data\b/
            words.update(re.findall(r"[A-Za-z_]+", re.sub(r"\\.", " ", pattern)))
    return frozenset(words)


KEYWORDS = grammar_keywords()

_first = string.ascii_letters + "_"
_rest = string.ascii_letters + string.digits + "_"

segments = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(_first),
    st.text(alphabet=_rest, max_size=8),
).filter(lambda s: s not in KEYWORDS)

term_ids = st.lists(segments, min_size=1, max_size=3).map(".".join)

# Printable and not: quotes, backslashes, `#`, tabs, unicode; never a line break.
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\#:,()\t é€東😀'),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    ),
    max_size=24,
)

term_refs = st.builds(lambda i: ast.TermRef(id=i), term_ids)


def ref_lists(min_size: int = 1, max_size: int = 3) -> st.SearchStrategy[tuple[ast.TermRef, ...]]:
    return st.lists(term_refs, min_size=min_size, max_size=max_size).map(tuple)


def _and(operands: list[ast.Condition]) -> ast.Condition:
    flat: list[ast.Condition] = []
    for o in operands:
        flat.extend(o.operands if isinstance(o, ast.And) else [o])
    return ast.And(operands=tuple(flat))


def _or(operands: list[ast.Condition]) -> ast.Condition:
    flat: list[ast.Condition] = []
    for o in operands:
        flat.extend(o.operands if isinstance(o, ast.Or) else [o])
    return ast.Or(operands=tuple(flat))


durations = st.builds(ast.Duration, count=st.integers(0, 400), unit=st.sampled_from(["day", "week", "month", "year"]))
# a time limit as a condition: `account_closed less than 30 days ago` (`collected ...` for collection)
elapsed_refs = st.builds(lambda i, d: ast.FactRef(name=timelimits.atom_name(i, d)),
                         st.one_of(term_ids, st.just("collected")), durations)
fact_refs = st.one_of(st.builds(lambda i: ast.FactRef(name=i), term_ids), elapsed_refs)
time_limits = st.builds(ast.TimeLimit, form=st.sampled_from(["within", "after"]), duration=durations,
                        anchor=st.one_of(st.none(), term_refs))

conditions: st.SearchStrategy[ast.Condition] = st.recursive(
    fact_refs,
    lambda inner: st.one_of(
        st.builds(lambda c: ast.Not(operand=c), inner),
        st.lists(inner, min_size=2, max_size=3).map(_and),
        st.lists(inner, min_size=2, max_size=3).map(_or),
    ),
    max_leaves=8,
)

effects = st.sampled_from(["allow", "deny"])
actions = st.sampled_from(list(ast.ACTIONS))
data_specs = st.one_of(st.none(), ref_lists())

rules = st.builds(
    ast.Rule,
    effect=effects,
    action=actions,
    data=data_specs,
    sources=ref_lists(0),
    purposes=ref_lists(0),
    recipients=ref_lists(0),
    time=st.one_of(st.none(), time_limits),
    condition=st.one_of(st.none(), conditions),
    basis=st.one_of(st.none(), term_refs),
    destinations=st.one_of(st.just(()), ref_lists()),  # a transfer: `in REGION under SAFEGUARD`
    safeguard=st.one_of(st.none(), term_refs),
)


@st.composite
def queries(draw: st.DrawFn) -> ast.Query:
    facts = draw(st.one_of(st.none(), st.just(()), ref_lists()))
    ids = [f.id for f in facts or ()]
    once = [i for i in dict.fromkeys(ids) if ids.count(i) == 1]  # an age is written on each mention
    aged = draw(st.lists(st.sampled_from(once), unique=True)) if once else []
    return ast.Query(action=draw(actions), data=draw(term_refs), source=draw(st.one_of(st.none(), term_refs)),
                     purpose=draw(st.one_of(st.none(), term_refs)), recipient=draw(st.one_of(st.none(), term_refs)),
                     facts=facts, ages=tuple((i, draw(durations)) for i in ids if i in aged),
                     collected=draw(st.one_of(st.none(), durations)),
                     destination=draw(st.one_of(st.none(), term_refs)))


@st.composite
def expectations(draw: st.DrawFn) -> ast.Expectation:
    decision = draw(st.sampled_from(["allow", "deny", "conditional"]))
    requires = draw(st.one_of(st.none(), conditions)) if decision == "conditional" else None
    return ast.Expectation(decision=decision, query=draw(queries()), requires=requires,
                           lasting=draw(st.one_of(st.none(), durations)))


rights = st.builds(lambda r, c: ast.Right(right=r, channels=tuple(c)), term_refs, st.lists(texts, min_size=1,
                                                                                            max_size=3))
retentions = st.builds(ast.Retention, data=data_specs, period=texts)
securities = st.builds(lambda m: ast.Security(measures=tuple(m)), st.lists(texts, min_size=1, max_size=3))

_item_strategies = [rules, expectations(), rights, retentions, securities]

if hasattr(ast, "Invariant"):  # promises over every question in scope (added to the language later)

    @st.composite
    def invariants(draw: st.DrawFn) -> ast.SectionItem:
        form = draw(st.sampled_from(["never", "every", "no"]))
        fields: dict[str, object] = {
            "form": form,
            "action": draw(actions),
            "data": draw(data_specs),
            "sources": draw(ref_lists(0)),
            "purposes": draw(ref_lists(0)),
            "recipients": draw(ref_lists(0)),
            "destinations": draw(ref_lists(0)),
        }
        if form == "every":
            fields["basis"] = draw(term_refs)
        elif form == "no":
            tail = draw(st.sampled_from(["without", "except", "except_under"]))
            if tail == "without":
                fields["without"] = draw(term_refs)
            elif tail == "except":
                fields["exceptions"] = draw(ref_lists())
            else:
                fields["safeguards"] = draw(ref_lists())
        return ast.Invariant(**fields)  # type: ignore[attr-defined]

    _item_strategies.append(invariants())

section_items = st.one_of(*_item_strategies)

sections = st.builds(lambda title, items: ast.Section(title=title, items=tuple(items)), texts,
                     st.lists(section_items, max_size=5))

term_decls = st.builds(ast.TermDecl, kind=st.sampled_from(list(ast.TERM_KINDS)), id=term_ids, label=texts)

metadata = st.builds(
    ast.Metadata,
    name=texts,
    controller=st.one_of(st.none(), texts),
    contact=st.one_of(st.none(), texts),
    updated=st.one_of(st.none(), st.dates()),
)

policies = st.builds(
    ast.PolicyFile,
    meta=st.one_of(st.none(), metadata),
    terms=st.lists(term_decls, max_size=6).map(tuple),
    sections=st.lists(sections, max_size=3).map(tuple),
)


def conditions_over(facts: list[str], width: int = 3, leaves: int = 5) -> st.SearchStrategy[ast.Condition]:
    """Conditions over `facts`: not / and / or of up to `width` operands, up to `leaves` fact references."""
    leaf = st.sampled_from(facts).map(lambda f: ast.FactRef(name=f))

    def extend(inner: st.SearchStrategy[ast.Condition]) -> st.SearchStrategy[ast.Condition]:
        return st.one_of(
            inner.map(lambda c: ast.Not(operand=c)),
            st.lists(inner, min_size=2, max_size=width).map(lambda ops: flat(ast.And, ops)),
            st.lists(inner, min_size=2, max_size=width).map(lambda ops: flat(ast.Or, ops)),
        )

    return st.recursive(leaf, extend, max_leaves=leaves)


def flat(cls, ops):  # type: ignore[no-untyped-def]
    """The parser flattens `a and (b and c)`; so must generated trees, to print and re-read the same."""
    out = []
    for o in ops:
        out.extend(o.operands if isinstance(o, cls) else [o])
    return cls(operands=tuple(out))
