"""diagnostics.py: text and JSON rendering, sorting, PolicyError."""

from __future__ import annotations

import json

import pytest

from policy_engine.language.diagnostics import (
    Diagnostic,
    PolicyError,
    Severity,
    has_errors,
    render_json,
    render_text,
    sort_diagnostics,
)
from policy_engine.language.source import Source, Span

TEXT = 'data email "E"\nsection "S":\n  allow use of emial for marketing\n'
SRC = Source(TEXT, "policies/x.policy")
START = TEXT.index("emial")


def _diag(code: str = "check.unknown_term", start: int = START, end: int = START + 5, **kw) -> Diagnostic:
    kw.setdefault("help", "did you mean `email`?")
    return Diagnostic(code, "unknown data `emial`", SRC, Span(start, end), **kw)


def test_render_text_layout() -> None:
    assert _diag().render() == (
        "policies/x.policy:3:16: error: check.unknown_term: unknown data `emial`\n"
        "   3 |   allow use of emial for marketing\n"
        "     |                ^^^^^\n"
        "  help: did you mean `email`?"
    )


def test_render_warning_without_help() -> None:
    d = _diag("check.unused_term", help=None, severity=Severity.WARNING)
    lines = d.render().split("\n")
    assert lines[0].startswith("policies/x.policy:3:16: warning: check.unused_term: ")
    assert len(lines) == 3
    assert not any("help:" in line for line in lines)


def test_render_without_source_or_span() -> None:
    d = Diagnostic("source.not_found", "no such file: a.policy", help="check the path")
    assert d.render() == "<input>: error: source.not_found: no such file: a.policy\n  help: check the path"
    assert d.file is None and d.line is None and d.column is None
    d = Diagnostic("source.not_found", "gone", SRC, None)
    assert d.render().startswith("policies/x.policy: error: source.not_found: gone")
    assert "^" not in d.render()


def test_to_dict_fields() -> None:
    d = _diag()
    assert d.to_dict() == {
        "code": "check.unknown_term",
        "severity": "error",
        "message": "unknown data `emial`",
        "file": "policies/x.policy",
        "line": 3,
        "column": 16,
        "end_line": 3,
        "end_column": 21,
        "help": "did you mean `email`?",
    }


def test_to_dict_multiline_span_and_missing_position() -> None:
    d = Diagnostic("parse.unterminated_string", "m", SRC, Span(5, TEXT.index("section") + 3))
    got = d.to_dict()
    assert (got["line"], got["column"], got["end_line"], got["end_column"]) == (1, 6, 2, 4)
    got = Diagnostic("source.not_found", "m").to_dict()
    assert got["file"] is None and got["line"] is None and got["end_column"] is None and got["help"] is None


def test_render_json_parses_back() -> None:
    diags = [_diag(), Diagnostic("source.not_found", "gone")]
    assert json.loads(render_json(diags)) == [d.to_dict() for d in diags]
    assert json.loads(render_json([])) == []


def test_render_text_separates_with_blank_lines() -> None:
    a, b = _diag(), _diag("check.x", start=0, end=4)
    assert render_text([a, b]) == a.render() + "\n\n" + b.render()
    assert render_text([]) == ""


def test_sort_by_file_then_position_then_code() -> None:
    other = Source(TEXT, "a.policy")
    d1 = Diagnostic("check.b", "m", SRC, Span(20, 25))
    d2 = Diagnostic("check.a", "m", SRC, Span(20, 25))
    d3 = Diagnostic("check.c", "m", SRC, Span(3, 4))
    d4 = Diagnostic("check.z", "m", other, Span(30, 31))
    d5 = Diagnostic("source.not_found", "m")
    d6 = Diagnostic("check.d", "m", SRC, Span(20, 22))
    assert sort_diagnostics([d1, d2, d3, d4, d5, d6]) == [d5, d4, d3, d6, d2, d1]


def test_sort_removes_exact_duplicates_only() -> None:
    d = _diag()
    same_place_other_message = Diagnostic(d.code, "another message", SRC, d.span)
    assert sort_diagnostics([d, d, _diag()]) == [d]
    assert len(sort_diagnostics([d, same_place_other_message])) == 2


def test_has_errors() -> None:
    warning = _diag(severity=Severity.WARNING)
    assert not has_errors([])
    assert not has_errors([warning])
    assert has_errors([warning, _diag()])
    assert _diag().is_error and not warning.is_error


def test_policy_error_carries_sorted_diagnostics() -> None:
    late, early = _diag(start=30, end=31), _diag(start=0, end=4)
    err = PolicyError([late, early])
    assert err.diagnostics == [early, late]
    assert err.first is early
    assert err.code == "check.unknown_term"
    assert str(err) == render_text([early, late])
    with pytest.raises(PolicyError):
        raise err


def test_policy_error_without_diagnostics() -> None:
    assert PolicyError([]).code == "error"


def test_severity_serialises_as_word() -> None:
    assert Severity.WARNING.value == "warning"
    assert json.loads(json.dumps({"s": Severity.ERROR})) == {"s": "error"}
