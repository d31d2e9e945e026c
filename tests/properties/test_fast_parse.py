"""The fast path and the tree path read every text alike (fast_parse.py against Lark).

parse() answers from the fast path when it reads a text and from the tree path when it
declines; either way the answer must be the tree path's own: the same AST, the same span on
every node, the same diagnostics (code, place, words, help). Texts: random policies printed
(then re-laid out with random blanks, line breaks and comments, keywords and all-data as term
names), and the fuzzer's mutations of real policies (misspelt keywords, stray characters,
truncations).
"""

from __future__ import annotations

import sys
from typing import Any, Iterator

from hypothesis import given
from hypothesis import strategies as st

from policy_engine.language import ast
from policy_engine.language.fast_parse import Decline, parse_fast
from policy_engine.language.parser import parse, parse_reference
from policy_engine.language.printer import format_policy
from policy_engine.language.source import Source

from paths import REPO, RICH

from .strategies import KEYWORDS, policies
from .test_fuzz import SEEDS, mutation


def _spans(node: Any, path: str = "policy") -> Iterator[tuple[str, Any]]:
    if isinstance(node, ast.Node):
        yield path, node.span
        for extra in ("id_span", "title_span"):
            if extra in type(node).model_fields:
                yield f"{path}.{extra}", getattr(node, extra)
        for name in type(node).model_fields:
            if name not in ("span", "id_span", "title_span"):
                yield from _spans(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, tuple):
        for i, item in enumerate(node):
            yield from _spans(item, f"{path}[{i}]")


def _diagnostics(result: Any) -> list[tuple[Any, ...]]:
    return [(d.code, d.span, d.message, d.help) for d in result.diagnostics]


def assert_same_reading(text: str) -> bool:
    """Both paths agree on `text`; True when the fast path read it itself."""
    source = Source(text, "p.policy")
    reference = parse_reference(source)
    answer = parse(source)
    assert _diagnostics(answer) == _diagnostics(reference)
    assert answer.policy == reference.policy
    if reference.policy is not None:
        assert list(_spans(answer.policy)) == list(_spans(reference.policy))
    try:
        fast = parse_fast(source)
    except (Decline, RecursionError):
        return False
    assert reference.policy is not None and reference.diagnostics == []
    assert list(_spans(fast)) == list(_spans(reference.policy)) and fast == reference.policy
    return True


LAYOUT = ["  ", "\n", "\n  ", "\t", " # note\n  ", "\r\n", " #\n\n    ", "\f"]


@st.composite
def laid_out(draw: st.DrawFn) -> str:
    """A random policy, printed, with some of its blanks replaced by other layout."""
    text = format_policy(draw(policies))
    pieces = text.split(" ")
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append(draw(st.sampled_from(LAYOUT)) if draw(st.integers(0, 5)) == 0 else " ")
        out.append(piece)
    return "".join(out)


@st.composite
def keywords_as_names(draw: st.DrawFn) -> str:
    """Term names that are keywords: Lark's contextual lexer reads most of them as names."""
    words = sorted(KEYWORDS | {"all", "all data", "not.x", "nothing", "data"})
    a, b, c = (draw(st.sampled_from(words)) for _ in range(3))
    return (f'data {a} "A"\nsource {b} "B"\npurpose {c} "C"\nfact {a} "F"\n'
            f'section "S":\n  allow use of {a}, {b} from {b} for {c} if not {a} or ({c} and {b}) basis {c}\n'
            f'  expect deny: use of {a} from {b} for {c} given {a}, {b}\n'
            f'  no share of {a} with {b} unless {c}\n  never use {a}\n  every use {b} has basis {c}\n'
            f'  retention of {a}, {b}: "x"\n  right {a} via "x"\n')


@given(laid_out())
def test_random_policies_read_alike(text: str) -> None:
    assert_same_reading(text)


@given(keywords_as_names())
def test_keywords_as_names_read_alike(text: str) -> None:
    assert_same_reading(text)


@given(st.sampled_from(SEEDS).flatmap(mutation))
def test_mutated_policies_read_alike(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert_same_reading(text)


def test_the_fast_path_reads_real_policies() -> None:
    """Not a path that declines everything: every clean policy in the repository is its own."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "policies").glob("*.policy"))]
    texts += [RICH.read_text(encoding="utf-8"), generate(200)]
    for text in texts:
        assert assert_same_reading(text)


@given(st.sampled_from(["not ", "(", "a and ("]), st.integers(200, 300))
def test_nesting_near_the_limit_reads_alike(prefix: str, depth: int) -> None:
    body = prefix * depth + "a" + (")" * depth if "(" in prefix else "")
    assert_same_reading(f'fact a "A"\nsection "S":\n  allow use of a if {body}\n')


def test_a_keyword_where_of_is_left_out_is_the_tree_paths_error() -> None:
    """Found by the mutation law: `use action from contact` (a keyword word after an action,
    without `of`) is an error for Lark's lexer; the fast path once read it as a term name."""
    for word in ("action", "data", "source", "section"):
        text = (RICH.read_text(encoding="utf-8")
                .replace("use of email from forum for marketing given", f"use {word} from forum for marketing given", 1))
        assert f"use {word} from forum" in text
        assert not assert_same_reading(text)
