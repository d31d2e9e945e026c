"""Every ```policy block in the docs is checked with the project's own checker.

A plain ```policy block is a whole policy and must check without errors. A block written
```{.policy .fragment} is a piece of one: it must check without errors inside the vocabulary of
policies/open_e.policy (as is, after the declarations, or as the statements of a section).
A block written ```{.policy .invalid} shows a mistake: it must be rejected in every one of
those forms. Any other class is a mistake in the docs.
"""

from __future__ import annotations

import textwrap
from functools import cache

import pytest

from policy_engine import api
from policy_engine.language.printer import quote

from paths import OPEN_E

from .conftest import CodeBlock, code_blocks

BLOCKS = code_blocks("policy")
KNOWN_CLASSES = {"fragment", "invalid"}


@cache
def open_e_declarations() -> str:
    result = api.check_file(OPEN_E)
    assert result.ok and result.policy is not None, "policies/open_e.policy must check for the docs tests"
    return "\n".join(f"{t.kind} {t.id} {quote(t.label)}" for t in result.policy.terms) + "\n"


def forms(block: CodeBlock) -> list[str]:
    if "fragment" not in block.classes and "invalid" not in block.classes:
        return [block.text]
    decls = open_e_declarations()
    return [block.text, decls + block.text, decls + 'section "Fragment":\n' + textwrap.indent(block.text, "  ")]


def errors(text: str, name: str) -> list[str]:
    return [d.render() for d in api.check_text(text, name).diagnostics if d.is_error]


def test_the_docs_have_policy_blocks_of_every_kind():
    kinds = {"whole" if not b.classes else b.classes[0] for b in BLOCKS}
    assert {"whole", "fragment", "invalid"} <= kinds


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_policy_block(block: CodeBlock):
    unknown = set(block.classes) - KNOWN_CLASSES
    assert not unknown, f"{block.id}: unknown class {unknown}; use .fragment or .invalid"
    results = [errors(text, block.id) for text in forms(block)]
    if "invalid" in block.classes:
        assert all(results), f"{block.id} is marked invalid but checks cleanly"
    else:
        assert any(not r for r in results), f"{block.id} does not check:\n" + "\n\n".join(min(results, key=len))


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_policy_block_highlights_without_error_tokens(block: CodeBlock):
    from pygments.token import Error

    from policy_engine.language.highlight import PolicyLexer

    assert not [v for t, v in PolicyLexer().get_tokens(block.text) if t in Error]
