"""Every ```python block in the docs runs (from the repository root), so the examples cannot rot."""

from __future__ import annotations

import os

import pytest

from .conftest import ROOT, CodeBlock, code_blocks

BLOCKS = code_blocks("python")


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_python_block(block: CodeBlock, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exec(compile(block.text, block.id, "exec"), {"__name__": "__docs__"})


def test_there_are_python_examples():
    assert BLOCKS
