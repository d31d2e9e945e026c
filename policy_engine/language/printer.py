"""AST -> canonical policy text. In: ast nodes. Out: str.

One layout for every policy: declarations first,
in the order written, then sections with their statements indented. `parse(print(p)) == p` is a tested law;
`fmt` builds on this module, and rule texts in decision reasons come from it.
"""

from __future__ import annotations

from policy_engine.language import ast

INDENT = "  "
CONTINUATION = INDENT * 2


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_condition(cond: ast.Condition, parent: str | None = None) -> str:
    """Parenthesises every nested and/or so a reader never needs precedence rules."""
    if isinstance(cond, ast.FactRef):
        return cond.name
    if isinstance(cond, ast.Not):
        inner = format_condition(cond.operand, "not")
        return f"not {inner}"
    word = " and " if isinstance(cond, ast.And) else " or "
    text = word.join(format_condition(o, cond.op) for o in cond.operands)
    return f"({text})" if parent is not None else text


def _terms(refs: tuple[ast.TermRef, ...]) -> str:
    return ", ".join(r.id for r in refs)


def _data(data: tuple[ast.TermRef, ...] | None) -> str:
    return "all data" if data is None else _terms(data)


def _scope_clauses(node: ast.Rule | ast.Invariant) -> list[str]:
    """`from S`, `for P`, `with R`: the clauses a rule and an invariant share, in their order."""
    parts = []
    for word, refs in (("from", node.sources), ("for", node.purposes), ("with", node.recipients),
                       ("in", node.destinations)):
        if refs:
            parts.append(f"{word} {_terms(refs)}")
    return parts


def rule_clauses(rule: ast.Rule) -> list[str]:
    parts = [f"{rule.effect} {rule.action} of {_data(rule.data)}", *_scope_clauses(rule)]
    if rule.safeguard is not None:
        parts.append(f"under {rule.safeguard.id}")
    if rule.time is not None:
        parts.append(format_time_limit(rule.time))
    if rule.condition is not None:
        parts.append(f"if {format_condition(rule.condition)}")
    if rule.basis is not None:
        parts.append(f"basis {rule.basis.id}")
    return parts


def format_time_limit(limit: ast.TimeLimit) -> str:
    """`within 30 days after account_closed`, `after 2 years`."""
    return f"{limit.form} {limit.duration.text()}" + (f" after {limit.anchor.id}" if limit.anchor is not None else "")


def format_rule(rule: ast.Rule) -> str:
    """The rule on one line, as decision reasons quote it."""
    return " ".join(rule_clauses(rule))


def format_invariant(inv: ast.Invariant) -> str:
    """`never use of email from forum for marketing`; all data is written by leaving `of` out."""
    parts = [f"{inv.form} {inv.action}"]
    if inv.data is not None:
        parts.append(f"of {_terms(inv.data)}")
    parts += _scope_clauses(inv)
    if inv.basis is not None:
        parts.append(f"has basis {inv.basis.id}")
    if inv.without is not None:
        parts.append(f"without {inv.without.id}")
    if inv.exceptions:
        parts.append(f"except {_terms(inv.exceptions)}")
    if inv.safeguards:
        parts.append(f"except under {_terms(inv.safeguards)}")
    if inv.unless is not None:
        parts.append(f"unless {format_condition(inv.unless)}")
    return " ".join(parts)


def question_text(action: str, data: str, source: str | None = None, purpose: str | None = None,
                  recipient: str | None = None, facts: list[str] | None = None, collected: str | None = None,
                  destination: str | None = None) -> str:
    """A question in the language's syntax: `use of email from forum for marketing given nothing`
    (facts None: no `given` clause); `collected`, when given, follows the source
    (`collected 10 days ago`)."""
    parts = [f"{action} of {data}"]
    if source is not None:
        parts.append(f"from {source}")
    if collected is not None:
        parts.append(f"collected {collected}")
    for word, term in (("for", purpose), ("with", recipient), ("in", destination)):
        if term is not None:
            parts.append(f"{word} {term}")
    if facts is not None:
        parts.append("given " + (", ".join(facts) if facts else "nothing"))
    return " ".join(parts)


def given_clause(query: ast.Query) -> str:
    """`given nothing`, `given account_closed 10 days ago, newsletter_form`."""
    return "given " + (", ".join(_given_facts(query)) or "nothing")


def _given_facts(query: ast.Query) -> list[str]:
    ages = dict(query.ages)
    return [f.id + (f" {ages[f.id].text()} ago" if f.id in ages else "") for f in query.facts or ()]


def expectation_head(exp: ast.Expectation) -> str:
    """`expect allow:`, `expect allow for 80 days:`."""
    return f"expect {exp.decision}" + (f" for {exp.lasting.text()}" if exp.lasting is not None else "") + ":"


def format_query(query: ast.Query) -> str:
    return question_text(query.action, query.data.id, query.source.id if query.source else None,
                         query.purpose.id if query.purpose else None,
                         query.recipient.id if query.recipient else None,
                         None if query.facts is None else _given_facts(query),
                         None if query.collected is None else f"{query.collected.text()} ago",
                         query.destination.id if query.destination else None)


def format_item(item: ast.SectionItem) -> str:
    if isinstance(item, ast.Rule):
        return _wrapped(rule_clauses(item))
    if isinstance(item, ast.Expectation):
        text = f"{expectation_head(item)} {format_query(item.query)}"
        if item.requires is not None:
            text += f" requires {format_condition(item.requires)}"
        return text
    if isinstance(item, ast.Right):
        return _wrapped(right_clauses(item))
    if isinstance(item, ast.Note):
        return format_note(item)
    if isinstance(item, ast.ChangeNotice):
        text = f"changes notice {item.notice.text()}"
        return text + (" via " + ", ".join(quote(c) for c in item.channels) if item.channels else "")
    if isinstance(item, ast.Audience):
        return f"audience {format_condition(item.condition)}"
    if isinstance(item, ast.Retention):
        return f"retention of {_data(item.data)}: {quote(item.period)}"
    if isinstance(item, ast.Security):
        return "security " + ", ".join(quote(m) for m in item.measures)
    if isinstance(item, ast.Invariant):
        return format_invariant(item)
    raise TypeError(f"not a section item: {item!r}")


def implies_clause(decl: ast.TermDecl) -> str:
    """` implies a, b` after a fact's label, or nothing."""
    return " implies " + _terms(decl.implies) if decl.implies else ""


def _wrapped(clauses: list[str]) -> str:
    """One line up to 80 columns; beyond, one clause per continuation line."""
    first, *rest = clauses
    if len(first) + sum(len(r) + 1 for r in rest) <= 80:
        return " ".join([first, *rest])
    return "\n".join([first, *(CONTINUATION[len(INDENT):] + r for r in rest)]).replace("\n", "\n" + INDENT)


def right_clauses(right: ast.Right) -> list[str]:
    """`right ID [if C] via CH, ... [within D [extended by D]] [at most N per D] [except A [for P, ...]]...`"""
    head = f"right {right.right.id}"
    if right.condition is not None:
        head += f" if {format_condition(right.condition)}"
    out = [head + " via " + ", ".join(quote(c) for c in right.channels)]
    if right.deadline is not None:
        out.append(f"within {right.deadline.text()}"
                   + (f" extended by {right.extension.text()}" if right.extension is not None else ""))
    if right.limit is not None and right.per is not None:
        out.append(f"at most {right.limit} per {right.per.text()}")
    for e in right.exceptions:
        out.append(f"except {e.action}" + (" for " + _terms(e.purposes) if e.purposes else ""))
    return out


def format_note(note: ast.Note) -> str:
    word = "controlling language" if note.topic == "controlling_language" else note.topic
    parts = [word]
    if note.date is not None:
        parts.append(note.date.isoformat())
    if note.text is not None:
        parts.append(quote(note.text))
    if note.condition is not None:
        parts.append(f"if {format_condition(note.condition)}")
    return " ".join(parts)


def format_policy(policy: ast.PolicyFile) -> str:
    out: list[str] = []
    if policy.meta is not None:
        meta = policy.meta
        out.append(f"policy {quote(meta.name)}")
        if meta.controller is not None:
            out.append(f"{INDENT}controller {quote(meta.controller)}")
        if meta.contact is not None:
            out.append(f"{INDENT}contact {quote(meta.contact)}")
        if meta.updated is not None:
            out.append(f"{INDENT}updated {meta.updated.isoformat()}")
        out.append("")
    # Declaration order is kept (it is part of the AST); a kind change starts a new block.
    for index, decl in enumerate(policy.terms):
        if index and decl.kind != policy.terms[index - 1].kind:
            out.append("")
        out.append(f"{decl.kind} {decl.id} {quote(decl.label)}{implies_clause(decl)}")
    if policy.terms:
        out.append("")
    for section in policy.sections:
        out.append(f"section {quote(section.title)}:")
        for item in section.items:
            out.append(INDENT + format_item(item))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
