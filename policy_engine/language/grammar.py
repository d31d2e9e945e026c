"""Where the grammar lives and the one Lark parser built from it.

The grammar is `grammar/policy.lark` at the top of the repository; the wheel carries a
copy as `policy_engine/language/policy.lark`, so an installed copy finds it too.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import lark

GRAMMAR_NAME = "policy.lark"


def grammar_text() -> str:
    packaged = resources.files("policy_engine.language").joinpath(GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    in_repo = Path(__file__).resolve().parents[2] / "grammar" / GRAMMAR_NAME
    return in_repo.read_text(encoding="utf-8")


@functools.cache
def lark_parser() -> lark.Lark:
    """Built once per process; Lark's LALR parser is safe to share between threads."""
    return lark.Lark(grammar_text(), parser="lalr", propagate_positions=False, maybe_placeholders=False)
