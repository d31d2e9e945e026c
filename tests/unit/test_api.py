"""api.py: reading files, decoding, checking, and finding policy files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_engine import api
from policy_engine.language.diagnostics import PolicyError

CLEAN = 'data email "E"\npurpose m "M"\nsection "S":\n  allow use of email for m\n'


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- read_source / decode ----------------------------------------------------------------


def test_read_source_shows_the_path_relative_to_cwd(in_tmp: Path) -> None:
    (in_tmp / "sub").mkdir()
    (in_tmp / "sub" / "a.policy").write_text(CLEAN, encoding="utf-8")
    src = api.read_source(in_tmp / "sub" / "a.policy")
    assert src.path == "sub/a.policy"
    assert src.text == CLEAN


def test_read_source_missing_file(in_tmp: Path) -> None:
    with pytest.raises(PolicyError) as info:
        api.read_source("nope.policy")
    assert info.value.code == "source.not_found"
    assert "nope.policy" in info.value.first.message
    assert info.value.first.help
    assert info.value.first.file == "nope.policy"  # the rendered line starts with the file, not a placeholder
    assert info.value.first.render().startswith("nope.policy: error: source.not_found: ")


def test_read_source_folder(in_tmp: Path) -> None:
    (in_tmp / "dir.policy").mkdir()
    with pytest.raises(PolicyError) as info:
        api.read_source("dir.policy")
    assert info.value.code == "source.unreadable"
    assert "folder" in info.value.first.message


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_read_source_without_permission(in_tmp: Path) -> None:
    path = in_tmp / "secret.policy"
    path.write_text(CLEAN, encoding="utf-8")
    path.chmod(0)
    try:
        with pytest.raises(PolicyError) as info:
            api.read_source(path)
        assert info.value.code == "source.unreadable"
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize(
    ("data", "line", "column", "byte"),
    [
        (b"\xff", 1, 1, 0xFF),
        (b'data email "E"\nsection "\xe9t\xe9":\n', 2, 10, 0xE9),
        ('data é "É"\n'.encode() + b"# \xc3\x28\n", 2, 3, 0xC3),
        (b"data x\r\n  \x80", 2, 3, 0x80),
        ('data "日本"\n'.encode() + b"\xe6\x97", 2, 1, 0xE6),  # truncated at the very end
    ],
)
def test_decode_invalid_utf8_points_at_the_first_bad_byte(data: bytes, line: int, column: int, byte: int) -> None:
    with pytest.raises(PolicyError) as info:
        api.decode(data, "bad.policy")
    d = info.value.first
    assert d.code == "source.invalid_utf8"
    assert (d.file, d.line, d.column) == ("bad.policy", line, column)
    assert f"0x{byte:02x}" in d.message
    rendered = d.render()
    assert rendered.startswith(f"bad.policy:{line}:{column}: error: source.invalid_utf8:")
    assert "^" in rendered and "help:" in rendered


def test_read_source_invalid_utf8_file(in_tmp: Path) -> None:
    (in_tmp / "latin1.policy").write_bytes('data email "Adresse électronique"\n'.encode("latin-1"))
    with pytest.raises(PolicyError) as info:
        api.read_source("latin1.policy")
    assert (info.value.code, info.value.first.line, info.value.first.column) == ("source.invalid_utf8", 1, 21)
    result = api.check_file("latin1.policy")
    assert [(d.code, d.line, d.column) for d in result.diagnostics] == [("source.invalid_utf8", 1, 21)]
    assert result.policy is None and result.source is None and not result.ok


def test_decode_strips_a_byte_order_mark() -> None:
    src = api.decode(b"\xef\xbb\xbf" + CLEAN.encode(), "bom.policy")
    assert src.text == CLEAN
    assert api.check_source(src).diagnostics == []


def test_bom_does_not_shift_columns() -> None:
    result = api.check_source(api.decode(b'\xef\xbb\xbfdata email "E";', "bom.policy"))
    assert [(d.code, d.line, d.column) for d in result.diagnostics] == [("parse.unexpected_character", 1, 15)]


def test_bom_does_not_shift_the_invalid_utf8_column() -> None:
    with pytest.raises(PolicyError) as info:
        api.decode(b"\xef\xbb\xbfdata \xff", "bom.policy")
    assert (info.value.first.line, info.value.first.column) == (1, 6)


def test_decode_accepts_any_valid_utf8() -> None:
    text = 'data x "Zürich – 東京 😀"\n'
    assert api.decode(text.encode("utf-8"), "u.policy").text == text


# ---- check_* ------------------------------------------------------------------------------


def test_check_file_never_raises(in_tmp: Path) -> None:
    (in_tmp / "folder").mkdir()
    assert [d.code for d in api.check_file("missing.policy").diagnostics] == ["source.not_found"]
    assert [d.code for d in api.check_file("folder").diagnostics] == ["source.unreadable"]
    missing = api.check_file("missing.policy")
    assert missing.path == "missing.policy" and not missing.ok


def test_check_file_clean(in_tmp: Path) -> None:
    (in_tmp / "a.policy").write_text(CLEAN, encoding="utf-8")
    result = api.check_file(in_tmp / "a.policy")
    assert result.ok and result.diagnostics == []
    assert result.path == "a.policy"
    assert result.policy is not None and result.source is not None


def test_check_keeps_the_policy_when_only_the_checker_complains() -> None:
    result = api.check_text('data email "E"\nsection "S":\n  allow use of emial\n', "t.policy")
    assert [d.code for d in result.diagnostics] == ["check.unused_term", "check.unknown_term"]
    assert result.policy is not None and not result.ok


def test_check_without_policy_on_syntax_error() -> None:
    result = api.check_text("data email", "t.policy")
    assert result.policy is None
    assert [d.code for d in result.diagnostics] == ["parse.unexpected_end"]


def test_warnings_alone_are_ok() -> None:
    result = api.check_text('data email "E"\n')
    assert [d.code for d in result.diagnostics] == ["check.unused_term"]
    assert result.ok


def test_parse_and_check_diagnostics_are_merged_in_order() -> None:
    text = 'policy "P"\n  updated 2018-13-01\ndata email "E"\nsection "S":\n  allow use of emial\n'
    result = api.check_text(text)
    assert [(d.code, d.line) for d in result.diagnostics] == [
        ("parse.invalid_date", 2), ("check.unused_term", 3), ("check.unknown_term", 5)]


def test_parse_policy(in_tmp: Path) -> None:
    (in_tmp / "ok.policy").write_text('data email "E"\n', encoding="utf-8")  # a warning only
    source, policy = api.parse_policy("ok.policy")
    assert source.path == "ok.policy" and policy.terms[0].id == "email"
    (in_tmp / "bad.policy").write_text('data email "E"\nsection "S":\n  allow use of emial\n', encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        api.parse_policy("bad.policy")
    assert [d.code for d in info.value.diagnostics] == ["check.unknown_term"]  # errors only, no warnings
    with pytest.raises(PolicyError) as info:
        api.parse_policy("missing.policy")
    assert info.value.code == "source.not_found"


# ---- policy_files --------------------------------------------------------------------------


def test_policy_files_searches_folders_recursively_and_sorted(in_tmp: Path) -> None:
    for rel in ["p/b.policy", "p/a.policy", "p/sub/c.policy", "p/notes.txt", "p/sub/deeper/d.policy"]:
        (in_tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (in_tmp / rel).write_text(CLEAN, encoding="utf-8")
    (in_tmp / "p" / "folder.policy").mkdir()  # a folder named like a policy is not a file
    found = [p.relative_to(in_tmp / "p").as_posix() for p in api.policy_files([in_tmp / "p"])]
    assert found == ["a.policy", "b.policy", "sub/c.policy", "sub/deeper/d.policy"]


def test_policy_files_keeps_files_as_given(in_tmp: Path) -> None:
    (in_tmp / "x.txt").write_text(CLEAN, encoding="utf-8")
    (in_tmp / "d").mkdir()
    (in_tmp / "d" / "y.policy").write_text(CLEAN, encoding="utf-8")
    assert api.policy_files(["x.txt", "d"]) == [Path("x.txt"), Path("d/y.policy")]


def test_policy_files_empty_folder(in_tmp: Path) -> None:
    (in_tmp / "empty").mkdir()
    assert api.policy_files(["empty"]) == []


def test_policy_files_missing_path_names_it(in_tmp: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        api.policy_files(["missing-folder"])
    assert "missing-folder" in str(info.value)
