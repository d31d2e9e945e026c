"""source.py: offsets -> 1-based lines and columns, line texts and caret snippets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_engine.language.source import Source, Span, display_path


@pytest.mark.parametrize(
    ("offset", "want"),
    [(0, (1, 1)), (2, (1, 3)), (3, (1, 4)), (4, (2, 1)), (6, (2, 3)), (7, (3, 1)), (8, (3, 2))],
)
def test_position_is_one_based_and_counts_characters(offset: int, want: tuple[int, int]) -> None:
    src = Source("abc\nde\nf")
    assert src.position(offset) == want


def test_position_clamps_offsets_outside_the_text() -> None:
    src = Source("ab\ncd")
    assert src.position(-5) == (1, 1)
    assert src.position(100) == src.position(5) == (2, 3)


def test_position_counts_characters_not_bytes() -> None:
    src = Source("é€😀x\ny")
    assert src.position(3) == (1, 4)
    assert src.position(5) == (2, 1)


def test_empty_text() -> None:
    src = Source("")
    assert src.position(0) == (1, 1)
    assert src.line_text(1) == ""
    assert src.snippet(Span(0, 0)).splitlines()[-1].endswith("| ^")


def test_line_text() -> None:
    src = Source("first\nsecond\n\nlast")
    assert [src.line_text(n) for n in range(1, 5)] == ["first", "second", "", "last"]
    assert src.line_text(0) == "" and src.line_text(5) == ""


def test_last_line_without_newline() -> None:
    src = Source("data a \"A\"\ndata b \"B\"")
    assert src.line_text(2) == 'data b "B"'
    assert src.position(len(src.text)) == (2, 11)
    # A span at the very end still gets one caret, after the last character.
    gutter, carets = src.snippet(Span(len(src.text), len(src.text))).split("\n")
    assert gutter == '   2 | data b "B"'
    assert carets == "     | " + " " * 10 + "^"


def test_trailing_newline_makes_an_empty_last_line() -> None:
    src = Source("a\n")
    assert src.position(2) == (2, 1)
    assert src.line_text(2) == ""


def test_crlf_line_endings() -> None:
    src = Source("data a \"A\"\r\ndata b \"B\"\r\n")
    assert src.position(12) == (2, 1)
    assert src.line_text(1) == 'data a "A"'  # no stray \r in messages
    assert src.line_text(2) == 'data b "B"'
    start = src.text.index('b "B"')
    snippet = src.snippet(Span(start, start + 5))
    assert "\r" not in snippet
    assert snippet == '   2 | data b "B"\n     | ' + " " * 5 + "^^^^^"


def test_snippet_caret_under_span() -> None:
    src = Source('section "S":\n  allow use of emial for marketing\n')
    start = src.text.index("emial")
    assert src.snippet(Span(start, start + 5)) == (
        "   2 |   allow use of emial for marketing\n"
        "     | " + " " * len("  allow use of ") + "^^^^^"
    )


def test_snippet_keeps_tabs_so_carets_line_up() -> None:
    src = Source("\tallow\tuse of x\n")
    start = src.text.index("use")
    line, caret = src.snippet(Span(start, start + 3)).split("\n")
    assert line == "   1 | \tallow\tuse of x"
    # Every tab before the span is copied, every other character becomes a space.
    assert caret == "     | \t     \t^^^"


def test_snippet_of_multiline_span_underlines_to_end_of_first_line() -> None:
    src = Source("abc\ndef\n")
    assert src.snippet(Span(1, 6)) == "   1 | abc\n     |  ^^"


def test_snippet_empty_span_gets_one_caret() -> None:
    src = Source("abc")
    assert src.snippet(Span(1, 1)) == "   1 | abc\n     |  ^"


def test_snippet_gutter_grows_for_long_files() -> None:
    src = Source("x\n" * 12345 + "target\n")
    start = src.text.index("target")
    line, caret = src.snippet(Span(start, start + 6)).split("\n")
    assert line == "12346 | target"
    assert caret.index("|") == line.index("|")
    assert caret.endswith("| ^^^^^^")


def test_span_orders_by_start_then_end() -> None:
    assert sorted([Span(3, 4), Span(1, 9), Span(1, 2)]) == [Span(1, 2), Span(1, 9), Span(3, 4)]


def test_source_equality_ignores_the_line_table() -> None:
    assert Source("a\nb", "p") == Source("a\nb", "p")
    assert Source("a", "p") != Source("a", "q")


def test_display_path_relative_below_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "sub" / "a.policy") == "sub/a.policy"
    assert display_path("sub/a.policy") == "sub/a.policy"
    outside = tmp_path.parent / "elsewhere.policy"
    assert display_path(outside) == str(outside)
    assert display_path(os.fspath(tmp_path / "x.policy")) == "x.policy"
