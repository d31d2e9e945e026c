"""Formatter golden files: every tests/cases/fmt/<name>.policy beside <name>.formatted.policy.

For each case: fmt gives exactly the golden text; the golden text is a fixed point (fmt is
idempotent); fmt changes no meaning (`parse(fmt(s)) == parse(s)`, spans aside); and every
comment of the input is still in the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.language.formatter import format_text
from policy_engine.language.parser import parse_text, scan_comments

from paths import CASES as CASE_DIR, OPEN_E, TESTS

CASES = sorted(p for p in (CASE_DIR / "fmt").glob("*.policy") if not p.name.endswith(".formatted.policy"))


def _id(path: Path) -> str:
    return path.relative_to(TESTS).as_posix()


def test_there_are_cases() -> None:
    assert len(CASES) >= 4
    for case in CASES:
        assert case.with_suffix(".formatted.policy").exists(), f"{_id(case)} has no .formatted.policy golden"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_fmt_gives_the_golden_text(case: Path) -> None:
    source = case.read_text(encoding="utf-8")
    golden = case.with_suffix(".formatted.policy").read_text(encoding="utf-8")
    result = format_text(source, _id(case))
    assert result.ok, [d.render() for d in result.diagnostics]
    assert result.text == golden


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden_is_a_fixed_point(case: Path) -> None:
    golden = case.with_suffix(".formatted.policy").read_text(encoding="utf-8")
    again = format_text(golden)
    assert again.text == golden
    assert not again.changed


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_fmt_keeps_meaning_and_comments(case: Path) -> None:
    source = case.read_text(encoding="utf-8")
    golden = case.with_suffix(".formatted.policy").read_text(encoding="utf-8")
    before, after = parse_text(source), parse_text(golden)
    assert before.policy is not None and after.policy is not None
    assert before.policy == after.policy
    out_comments = " ".join(c.text for c in scan_comments(golden))
    for comment in scan_comments(source):
        assert comment.text in out_comments


def test_the_open_e_policy_formats_without_change_of_meaning() -> None:
    path = OPEN_E
    source = path.read_text(encoding="utf-8")
    result = format_text(source, "policies/open_e.policy")
    assert result.ok and result.text is not None
    assert parse_text(result.text).policy == parse_text(source).policy
    assert format_text(result.text).text == result.text
    assert len(scan_comments(result.text)) == len(scan_comments(source))
