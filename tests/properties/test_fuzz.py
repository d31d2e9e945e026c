"""Fuzzing the front end: mutated policies never crash it.

Seeds: policies/open_e.policy when it exists, and tests/fixtures/rich.policy (every construct).
Mutations: truncation, deleted / duplicated / swapped characters, misspelt keywords and ids,
inserted random bytes (invalid UTF-8 too), inserted quotes, parentheses and punctuation.
Laws: only PolicyError (from decode) may be raised; every diagnostic with a source has integer
line and column >= 1 on a real line and renders; whatever parses also formats and reads back.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from policy_engine import api
from policy_engine.language.diagnostics import Diagnostic, PolicyError
from policy_engine.language.parser import parse_text
from policy_engine.language.printer import format_policy

from paths import OPEN_E, RICH

from .strategies import KEYWORDS

SEEDS = [p.read_bytes() for p in ([OPEN_E] if OPEN_E.exists() else []) + [RICH]]

NOISE = [b'"', b"(", b")", b"((", b"#", b":", b",", b";", b"\\", b"\n", b"\r\n", b"\t", b" ", b".", b"&", b"|",
         b"\xe2\x80\x9c", b"\xe2\x80\x98", b"\xef\xbb\xbf", b"\x00", b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80",
         b"all data", b"not not", b" and ", b" or ", b"given nothing", b"requires", b"2018-13-45", b"1999-12-31"]
KEYWORD_BYTES = sorted(k.encode() for k in KEYWORDS)
WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]*")


def _misspell(word: bytes, how: int, pos: int) -> bytes:
    i = pos % max(1, len(word))
    if how == 0:
        return word[:i] + word[i + 1:]  # drop a letter
    if how == 1:
        return word[:i] + word[i:i + 1] + word[i:]  # double a letter
    if how == 2 and len(word) > 1:
        j = min(i, len(word) - 2)
        return word[:j] + word[j + 1:j + 2] + word[j:j + 1] + word[j + 2:]  # swap two letters
    return word.upper() if how == 3 else word + b"s"


@st.composite
def mutation(draw: st.DrawFn, data: bytes) -> bytes:
    n = len(data)
    at = draw(st.integers(0, n))
    size = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["truncate", "delete", "duplicate", "swap", "misspell", "keyword", "bytes",
                                 "noise"]))
    if kind == "truncate":
        return data[:at]
    if kind == "delete":
        return data[:at] + data[at + size:]
    if kind == "duplicate":
        return data[:at] + data[at:at + size] + data[at:]
    if kind == "swap":
        other = draw(st.integers(0, max(0, n - 1)))
        if n < 2:
            return data
        a, b = sorted((min(at, n - 1), other))
        return data[:a] + data[b:b + 1] + data[a + 1:b] + data[a:a + 1] + data[b + 1:]
    words = list(WORD.finditer(data))
    if kind in ("misspell", "keyword") and words:
        m = words[draw(st.integers(0, len(words) - 1))]
        if kind == "misspell":
            new = _misspell(m.group(), draw(st.integers(0, 4)), draw(st.integers(0, 40)))
        else:
            new = draw(st.sampled_from(KEYWORD_BYTES))
        return data[:m.start()] + new + data[m.end():]
    if kind == "bytes":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return data[:at] + draw(st.sampled_from(NOISE)) + data[at:]


@st.composite
def mutated_policies(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        data = draw(mutation(data))
    return data


def _assert_well_formed(diags: list[Diagnostic]) -> None:
    for d in diags:
        assert re.fullmatch(r"(source|parse|check)\.[a-z0-9_]+", d.code), d.code
        assert d.message
        rendered = d.render()
        json.dumps(d.to_dict())
        if d.source is None:
            continue
        assert d.span is not None and 0 <= d.span.start <= d.span.end <= len(d.source.text), d
        line, column = d.line, d.column
        assert isinstance(line, int) and isinstance(column, int) and line >= 1 and column >= 1, d
        assert 1 <= column <= len(d.source.line_text(line)) + 2, d
        assert f":{line}:{column}: " in rendered.split("\n")[0]
        assert "^" in rendered
        assert "__ANON" not in d.message and "$END" not in d.message


def _check_bytes(data: bytes, path: str) -> api.CheckResult | None:
    try:
        source = api.decode(data, path)
    except PolicyError as err:
        assert [d.code for d in err.diagnostics] == ["source.invalid_utf8"]
        _assert_well_formed(err.diagnostics)
        return None
    result = api.check_source(source)
    _assert_well_formed(result.diagnostics)
    return result


def test_seeds_are_clean() -> None:
    """Mutations start from valid policies (errors there would hide what the mutations do)."""
    result = _check_bytes(RICH.read_bytes(), "rich.policy")
    assert result is not None and result.diagnostics == []


@given(mutated_policies())
def test_mutated_policies_never_crash(data: bytes) -> None:
    result = _check_bytes(data, "fuzz.policy")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.policy"
        path.write_bytes(data)
        from_file = api.check_file(path)
    _assert_well_formed(from_file.diagnostics)
    if result is None:
        assert [d.code for d in from_file.diagnostics] == ["source.invalid_utf8"]
        return
    assert [(d.code, d.line, d.column) for d in from_file.diagnostics] == \
        [(d.code, d.line, d.column) for d in result.diagnostics]
    if result.policy is not None and not any(d.code.startswith("parse.") for d in result.diagnostics):
        formatted = format_policy(result.policy)
        again = parse_text(formatted)
        assert not [d for d in again.diagnostics if d.is_error], formatted
        assert again.policy == result.policy


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    _check_bytes(data, "random.policy")


SOUP = [*sorted(KEYWORDS), "email", "x.y", '"t"', '"', "(", ")", ":", ",", "#", "\n", "\\", "2018-05-25"]


@given(st.lists(st.sampled_from(SOUP), max_size=40).map(" ".join))
def test_keyword_soup_never_crashes(text: str) -> None:
    _check_bytes(text.encode("utf-8"), "soup.policy")
