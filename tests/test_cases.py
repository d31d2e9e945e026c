"""Golden cases: every tests/cases/check/<name>.policy beside <name>.yaml.

The yaml holds `want_diagnostics: [{code, line, column}]` (an empty list for a clean file).
Cases match codes and positions, never wording; the rendering checks below hold for all of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from policy_engine import api
from policy_engine.language.grammar import lark_parser

from paths import CASES, TESTS

CHECK_CASES = sorted((CASES / "check").rglob("*.policy"))

TERMINAL_NAMES = sorted({t.name for t in lark_parser().terminals} | {"$END"})
_TERMINAL_WORD = re.compile(r"(?<![A-Za-z_$])(" + "|".join(re.escape(n) for n in TERMINAL_NAMES) + r")(?![A-Za-z_])")


def _case_id(path: Path) -> str:
    return path.relative_to(TESTS).as_posix()


def _want(path: Path) -> list[tuple[str, int, int]]:
    spec = yaml.safe_load(path.with_suffix(".yaml").read_text(encoding="utf-8"))
    assert isinstance(spec, dict) and "want_diagnostics" in spec, f"{path.with_suffix('.yaml')} lacks want_diagnostics"
    return sorted((d["code"], d["line"], d["column"]) for d in spec["want_diagnostics"] or [])


def test_there_are_cases_for_every_code() -> None:
    """The corpus keeps covering each code the parser and checker can emit."""
    codes = {code for path in CHECK_CASES for code, _, _ in _want(path)}
    required = {
        "parse.unexpected_token", "parse.unexpected_character", "parse.unexpected_end", "parse.unfinished_statement",
        "parse.unterminated_string", "parse.invalid_date", "parse.duplicate_metadata",
        "parse.one_term_per_question", "parse.requires_without_conditional",
        "check.unknown_term", "check.unknown_fact", "check.wrong_kind", "check.duplicate_term",
        "check.missing_parent", "check.unsatisfiable_condition", "check.unknown_basis",
        "check.unknown_right", "check.incomplete_question", "check.conditional_with_facts",
        "check.unused_term", "check.repeated_term",
    }
    assert required <= codes, f"no golden case for {sorted(required - codes)}"
    assert any(not _want(p) for p in CHECK_CASES), "no clean golden case"


@pytest.mark.parametrize("path", CHECK_CASES, ids=_case_id)
def test_check_case(path: Path) -> None:
    result = api.check_file(path)
    got = sorted((d.code, d.line, d.column) for d in result.diagnostics)
    assert got == _want(path)

    # Reported in position order.
    positions = [(d.line, d.column) for d in result.diagnostics]
    assert positions == sorted(positions)

    for d in result.diagnostics:
        rendered = d.render()
        first, *rest = rendered.split("\n")
        assert d.file is not None and d.file.endswith(path.name)
        assert first.startswith(f"{d.file}:{d.line}:{d.column}: {d.severity.value}: {d.code}: ")
        assert any(re.fullmatch(r"\s*\| [\t ]*\^+", line) for line in rest), rendered
        assert any(re.fullmatch(rf"\s*{d.line} \| .*", line) for line in rest), rendered
        if d.help:
            assert f"help: {d.help}" in rendered
        for text in (d.message, d.help or ""):
            assert "__ANON" not in text and "$END" not in text, text
        assert not _TERMINAL_WORD.search(d.message), f"terminal name in message: {d.message!r}"
