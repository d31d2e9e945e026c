"""formatter.py: the canonical layout, comment placement, and the refusal to touch broken files."""

from __future__ import annotations

from policy_engine.language.formatter import format_text
from policy_engine.language.parser import parse_text

VOCAB = 'data email "E"\npurpose marketing "M"\nfact a "A"\nfact b "B"\n'


def fmt(text: str) -> str:
    result = format_text(text)
    assert result.ok, [d.render() for d in result.diagnostics]
    assert result.text is not None
    assert parse_text(result.text).policy == parse_text(text).policy
    assert format_text(result.text).text == result.text, "not idempotent"
    return result.text


def test_a_file_that_does_not_parse_is_not_formatted() -> None:
    result = format_text('section "S"\n  allow use of email\n', "bad.policy")
    assert not result.ok and result.text is None
    assert result.diagnostics[0].code.startswith("parse.")
    assert not result.changed


def test_empty_and_comment_only_files() -> None:
    assert fmt("") == ""
    assert fmt("\n\n  \n") == ""
    assert fmt("# only a comment\n\n\n# and another\n") == "# only a comment\n\n# and another\n"


def test_canonical_text_is_unchanged() -> None:
    text = ('data email "E"\n\npurpose marketing "M"\n\nfact a "A"\nfact b "B"\n\n'
            'section "S":\n  allow use of email for marketing if a basis consent\n')
    assert fmt(text) == text


def test_short_rule_joins_one_line_long_rule_wraps_one_clause_per_line() -> None:
    out = fmt(VOCAB + 'section "S":\n  allow use\n of email\n    for marketing\n')
    assert "  allow use of email for marketing\n" in out
    long = VOCAB + 'section "S":\n  allow use of email for marketing if a and b and (a or b) and not (a and b) basis consent\n'
    out = fmt(long)
    assert "  allow use of email\n    for marketing\n    if a and b" in out
    assert "\n    basis consent\n" in out


def test_trailing_comment_inside_a_rule_keeps_its_clause() -> None:
    out = fmt(VOCAB + 'section "S":\n  allow use of email  # which data\n    for marketing\n')
    assert "  allow use of email  # which data\n    for marketing\n" in out


def test_trailing_comment_on_the_last_clause_keeps_one_line() -> None:
    out = fmt(VOCAB + 'section "S":\n  allow use of email\n    for marketing  # why\n')
    assert "  allow use of email for marketing  # why\n" in out


def test_own_line_comment_inside_a_statement_moves_above_it() -> None:
    out = fmt(VOCAB + 'section "S":\n  allow use of email\n    # the purpose follows\n    for marketing\n')
    assert '  # the purpose follows\n  allow use of email for marketing\n' in out


def test_comments_stay_with_declarations_moved_above_sections() -> None:
    text = 'section "S":\n  allow use of email for marketing\n# the data\ndata email "E"\npurpose marketing "M"\n'
    out = fmt(text)
    assert out.index("# the data") < out.index("data email") < out.index("section")


def test_section_tail_comment_stays_in_its_section() -> None:
    out = fmt(VOCAB + 'section "A":\n  allow use of email for marketing\n  # not encodable: ...\nsection "B":\n')
    assert '  allow use of email for marketing\n  # not encodable: ...\n\nsection "B":' in out


def test_blank_lines_between_statements_collapse_to_one_and_never_open_a_section() -> None:
    text = VOCAB + 'section "S":\n\n\n  allow use of email for marketing\n\n\n\n  expect allow: use of email for marketing given nothing\n'
    out = fmt(text)
    assert 'section "S":\n  allow' in out
    assert "for marketing\n\n  expect" in out
    assert "\n\n\n" not in out


def test_declaration_labels_align_per_run_of_one_kind() -> None:
    out = fmt('data email "E"\ndata cookie.analytics "A"\ndata cookie "C"\nsource web "W"\n')
    assert 'data email            "E"\ndata cookie.analytics "A"\ndata cookie           "C"\n\nsource web "W"\n' == out


def test_long_expectation_wraps_before_given_and_requires() -> None:
    text = VOCAB + 'section "S":\n  expect deny: use of email for marketing given a, b, a, b, a, b, a, b, a, b, a, b, a, b, a\n'
    out = fmt(text)
    assert "  expect deny: use of email for marketing\n    given a, b," in out


def test_header_fields_take_the_printers_order() -> None:
    out = fmt('policy "P" updated 2020-01-01 contact "c" controller "x"\n')
    assert out == 'policy "P"\n  controller "x"\n  contact "c"\n  updated 2020-01-01\n'


def test_invariants_are_formatted_like_statements() -> None:
    text = VOCAB + 'section "S":\n  never   use of\n email for marketing\n  no use for marketing unless a   or b\n'
    out = fmt(text)
    assert "  never use of email for marketing\n  no use for marketing unless a or b\n" in out


def test_crlf_input_gives_lf_output() -> None:
    out = fmt(VOCAB.replace("\n", "\r\n") + 'section "S":\r\n  allow use of email for marketing  # c\r\n')
    assert "\r" not in out
    assert "# c\n" in out
