"""Shared helpers for the documentation tests: where the docs are, and their code blocks."""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from paths import REPO as ROOT

DOCS = ROOT / "docs"

FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$', re.MULTILINE)


@dataclass
class CodeBlock:
    path: Path
    line: int
    lang: str
    classes: list[str]
    text: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def expand_snippets(text: str) -> str:
    """pymdownx.snippets' `--8<-- "path"` lines, resolved as the site build resolves them."""
    return SNIPPET.sub(lambda m: (ROOT / m["path"]).read_text(encoding="utf-8").rstrip("\n"), text)


def code_blocks(lang: str) -> list[CodeBlock]:
    blocks = []
    for path in sorted(DOCS.rglob("*.md")):
        source = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(source):
            info = m["info"].strip()
            if info.startswith("{"):
                classes = re.findall(r"\.([\w-]+)", info)
                block_lang = classes[0] if classes else ""
                classes = classes[1:]
            else:
                block_lang, classes = (info.split() or [""])[0], []
            if block_lang == lang:
                line = source[: m.start()].count("\n") + 1
                blocks.append(CodeBlock(path, line, block_lang, classes, expand_snippets(m["body"])))
    return blocks


def load_hook(name: str):
    """A module of docs/hooks/ (they are scripts of the docs build, not part of the package)."""
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
