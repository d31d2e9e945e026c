"""What the playground computes from the text in its editor. In: the text (and the file on disk).
Out: plain dicts, ready to be sent as JSON.

Each function takes the whole text as it stands in the browser: nothing is kept between
requests and nothing is ever written, so a page that is reloaded or closed loses nothing on
disk. The work is the project's own: the checker (through the editor analysis the language
server uses), the engine's decisions and explanations, the semantic diff and its report in
words, the rendered document, and the data map.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pygments import token as t

from policy_engine import api
from policy_engine.language.diagnostics import PolicyError, render_text
from policy_engine.language.highlight import PolicyLexer
from policy_engine.language.source import Source
from policy_engine.lsp.analysis import analyse

KIND_ORDER = ("data", "source", "purpose", "recipient", "region", "fact")  # region: a destination
_CSS = ((t.Comment, "c"), (t.String, "s"), (t.Keyword, "k"), (t.Operator, "k"), (t.Literal, "d"),
        (t.Name, "n"), (t.Punctuation, "p"))
_LEXER = PolicyLexer()


class Unusable(Exception):
    """The text does not check, so there is nothing to decide, compare or draw; the message says why."""


def tokens(text: str) -> list[list[Any]]:
    """[start, end, css class] for every highlighted token, from the project's Pygments lexer."""
    out: list[list[Any]] = []
    for start, ttype, value in _LEXER.get_tokens_unprocessed(text):
        css = next((c for kind, c in _CSS if ttype in kind), None)
        if css is not None and value.strip():
            out.append([start, start + len(value), css])
    return out


def check(text: str, path: str) -> dict[str, Any]:
    """The checker's diagnostics (with character offsets for the editor), highlighting tokens,
    and the declared words by kind, for the question form."""
    a = analyse(Source(text, path))
    diags = []
    for d in a.diagnostics:
        row = d.to_dict()
        row["start"], row["end"] = (d.span.start, d.span.end) if d.span else (0, 0)
        row["fixes"] = [f.new_text for f in a.fixes(d)]
        diags.append(row)
    vocabulary = None
    if a.parsed:
        vocabulary = {kind: [{"id": decl.id, "label": decl.label} for (k, _), decl in a.declarations.items()
                             if k == kind] for kind in KIND_ORDER}
    errors = sum(d["severity"] == "error" for d in diags)
    return {"ok": errors == 0, "errors": errors, "warnings": len(diags) - errors, "diagnostics": diags,
            "tokens": tokens(text), "vocabulary": vocabulary}


def load(text: str, path: str) -> api.Policy:
    try:
        return api.loads(text, path)
    except PolicyError as err:
        errors = [d for d in err.diagnostics if d.is_error]
        raise Unusable(f"the policy has {len(errors)} error{'s' * (len(errors) != 1)}; fix "
                       f"{'it' if len(errors) == 1 else 'them'} first:\n" + render_text(errors[:3])) from None


def _labels(policy: api.Policy) -> dict[str, dict[str, str]]:
    return {kind: {i: term.label for i, term in policy.terms[kind].items()} for kind in KIND_ORDER}


def with_labels(condition: str | None, facts: dict[str, str]) -> str | None:
    """A condition in the engine's words (`a or not b`), with each fact's label for its id."""
    if condition is None:
        return None
    return re.sub(r"[A-Za-z_][\w.]*", lambda m: f"“{facts[m.group(0)]}”" if m.group(0) in facts else m.group(0),
                  condition)


def decide(text: str, path: str, query: dict[str, Any]) -> dict[str, Any]:
    """The decision for a question, as a headline in the policy's labels, the engine's own
    explanation, and the lines of the rules that decided it (to highlight in the editor)."""
    policy = load(text, path)
    labels = _labels(policy)
    query = {k: v for k, v in query.items() if v not in (None, "") or k == "facts"}
    decision = policy.decide(query)
    explanation = policy.explain(query)
    facts = labels["fact"]
    if decision.decision == "allow":
        headline = "Yes: this is allowed."
    elif decision.decision == "conditional":
        headline = f"Only if {with_labels(decision.requires, facts)}."
    else:
        headline = "No: this is not allowed."
        if decision.would_allow_if:
            headline += f" It would be allowed if {with_labels(decision.would_allow_if, facts)}."
    rules = [{"effect": r.effect, "line": r.line, "section": r.section, "rule": r.rule, "basis": r.basis}
             for r in decision.reasons]
    return {"decision": decision.decision, "headline": headline, "explanation": explanation, "rules": rules,
            "requires": decision.requires}


def diff(text: str, path: str, disk: Path | None) -> dict[str, Any]:
    """What the edit changes against the file on disk: every question whose answer changed, in words."""
    from policy_engine.guard import diff_report
    from policy_engine.guard.diff import semantic_diff

    if disk is None:
        return {"changed": None, "text": "There is no file on disk to compare with: start the playground "
                                          "with a policy file (policy-engine playground POLICY)."}
    try:
        on_disk = api.read_source(disk)
    except PolicyError as err:
        return {"changed": None, "text": render_text(err.diagnostics)}
    if on_disk.text == text:
        return {"changed": False, "text": "The text is the same as the file on disk."}
    edited = load(text, f"{path} (edited)")  # its errors first: they are the ones the author can fix here
    try:
        before = api.load_source(on_disk)
    except PolicyError:
        return {"changed": None, "text": f"The file on disk ({on_disk.path}) does not check, so there is "
                                         "nothing to compare the edit with."}
    result = semantic_diff(before, edited)
    return {"changed": bool(result.groups), "widened": result.widened, "narrowed": result.narrowed,
            "text": diff_report.render_text([result], show_all=True)}


def render(text: str, path: str) -> str:
    """The document for lawyers (HTML), as `policy-engine render --format html` writes it."""
    from policy_engine.render.document import render as render_document

    a = analyse(Source(text, path))
    if a.policy is None or any(d.is_error for d in a.diagnostics):
        load(text, path)  # raises Unusable with the errors
    assert a.policy is not None
    return render_document(a.policy, a.source, "html")
