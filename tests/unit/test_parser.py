"""parser.py: text -> AST shapes, spans, and syntax errors as diagnostics."""

from __future__ import annotations

import datetime as dt

import pytest

from policy_engine.language import ast
from policy_engine.language.parser import parse, parse_text
from policy_engine.language.source import Source

DECLS = """\
data email "E-mail address"
data name "Name"
data cookie "Cookies"
data cookie.essential "Essential cookies"
source contact "Contact forms"
source forum "Forum"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
recipient partner "Partners"
fact a "A"
fact b "B"
fact c "C"
"""


def policy_of(text: str) -> ast.PolicyFile:
    result = parse_text(text)
    assert [d.code for d in result.diagnostics] == [], [d.render() for d in result.diagnostics]
    assert result.policy is not None
    return result.policy


def items(body: str) -> tuple[ast.SectionItem, ...]:
    """The items of one section holding `body` (one statement per line)."""
    policy = policy_of(DECLS + 'section "S":\n' + "".join(f"  {line}\n" for line in body.splitlines()))
    (section,) = policy.sections
    return section.items


def item(body: str) -> ast.SectionItem:
    (only,) = items(body)
    return only


def condition(text: str) -> ast.Condition:
    rule = item(f"allow use of email for marketing if {text}")
    assert isinstance(rule, ast.Rule) and rule.condition is not None
    return rule.condition


def F(name: str) -> ast.FactRef:
    return ast.FactRef(name=name)


def T(term_id: str) -> ast.TermRef:
    return ast.TermRef(id=term_id)


# ---- whole policies --------------------------------------------------------------


def test_empty_text_is_an_empty_policy() -> None:
    assert policy_of("") == ast.PolicyFile()
    assert policy_of("\n  \n# just a comment\n") == ast.PolicyFile()


def test_header() -> None:
    policy = policy_of('policy "Open-E"\n  controller "Open-E Inc."\n  contact "privacy@open-e.com"\n'
                       "  updated 2018-05-25\n")
    assert policy.meta == ast.Metadata(name="Open-E", controller="Open-E Inc.", contact="privacy@open-e.com",
                                       updated=dt.date(2018, 5, 25))


def test_header_fields_are_optional_and_in_any_order() -> None:
    assert policy_of('policy "P"').meta == ast.Metadata(name="P")
    policy = policy_of('policy "P" updated 2020-01-31 contact "c"')
    assert policy.meta == ast.Metadata(name="P", contact="c", updated=dt.date(2020, 1, 31))


def test_term_declarations_keep_order_kind_id_label() -> None:
    policy = policy_of(DECLS)
    assert [(t.kind, t.id) for t in policy.terms][:5] == [
        ("data", "email"), ("data", "name"), ("data", "cookie"), ("data", "cookie.essential"), ("source", "contact"),
    ]
    assert policy.terms[3].parent == "cookie"
    assert policy.terms[0].parent is None
    assert policy.terms[0].label == "E-mail address"


def test_declarations_may_follow_sections() -> None:
    policy = policy_of('section "S":\n  security "tls"\ndata late "Late"\n')
    assert [t.id for t in policy.terms] == ["late"]
    assert len(policy.sections) == 1


def test_sections_in_order_with_titles() -> None:
    policy = policy_of('section "One":\nsection "Two":\n  security "x"\n')
    assert [(s.title, len(s.items)) for s in policy.sections] == [("One", 0), ("Two", 1)]


def test_comments_are_layout() -> None:
    with_comments = policy_of('# head\ndata email "E" # trailing\n# "not a string"\n')
    assert with_comments == policy_of('data email "E"\n')


def test_hash_inside_a_string_is_text() -> None:
    assert policy_of('data email "E # mail"\n').terms[0].label == "E # mail"


# ---- rules ---------------------------------------------------------------------------


def test_all_data_is_none() -> None:
    rule = item("allow retain of all data for marketing")
    assert isinstance(rule, ast.Rule)
    assert rule.data is None
    assert rule == ast.Rule(effect="allow", action="retain", data=None, purposes=(T("marketing"),))


def test_all_data_across_a_line_break() -> None:
    rule = item("deny share of all\n    data with partner")
    assert isinstance(rule, ast.Rule) and rule.data is None


def test_several_data_terms() -> None:
    rule = item("deny collect of email, name, cookie.essential from forum, contact")
    assert rule == ast.Rule(effect="deny", action="collect", data=(T("email"), T("name"), T("cookie.essential")),
                            sources=(T("forum"), T("contact")))


def test_every_clause() -> None:
    rule = item("allow share of email from contact for marketing with partner if a basis consent")
    assert rule == ast.Rule(effect="allow", action="share", data=(T("email"),), sources=(T("contact"),),
                            purposes=(T("marketing"),), recipients=(T("partner"),), condition=F("a"),
                            basis=T("consent"))


def test_to_is_a_synonym_of_with() -> None:
    assert item("allow share of email to partner") == item("allow share of email with partner")


def test_of_is_optional() -> None:
    assert item("allow use email for marketing") == item("allow use of email for marketing")
    assert item("expect deny: use email for marketing") == item("expect deny: use of email for marketing")


def test_rule_defaults() -> None:
    rule = item("deny use of email")
    assert isinstance(rule, ast.Rule)
    assert (rule.sources, rule.purposes, rule.recipients, rule.condition, rule.basis) == ((), (), (), None, None)


def test_statements_may_span_lines() -> None:
    assert item("allow use of email\n    for marketing\n    if a") == item("allow use of email for marketing if a")


# ---- conditions ------------------------------------------------------------------------


def test_precedence_not_and_or() -> None:
    want = ast.Or(operands=(F("a"), ast.And(operands=(F("b"), ast.Not(operand=F("c"))))))
    assert condition("a or b and not c") == want


def test_parentheses_override_precedence() -> None:
    assert condition("(a or b) and c") == ast.And(operands=(ast.Or(operands=(F("a"), F("b"))), F("c")))


@pytest.mark.parametrize("text", ["a and (b and c)", "(a and b) and c", "a and b and c", "((a) and ((b and c)))"])
def test_and_is_flattened(text: str) -> None:
    assert condition(text) == ast.And(operands=(F("a"), F("b"), F("c")))


@pytest.mark.parametrize("text", ["a or (b or c)", "(a or b) or c", "a or b or c"])
def test_or_is_flattened(text: str) -> None:
    assert condition(text) == ast.Or(operands=(F("a"), F("b"), F("c")))


def test_mixed_operators_are_not_flattened() -> None:
    got = condition("a and (b or (c and a))")
    assert got == ast.And(operands=(F("a"), ast.Or(operands=(F("b"), ast.And(operands=(F("c"), F("a")))))))


def test_not_binds_tightest_and_nests() -> None:
    assert condition("not a and b") == ast.And(operands=(ast.Not(operand=F("a")), F("b")))
    assert condition("not (a and b)") == ast.Not(operand=ast.And(operands=(F("a"), F("b"))))
    assert condition("not not a") == ast.Not(operand=ast.Not(operand=F("a")))


def test_single_fact_and_parenthesised_fact() -> None:
    assert condition("a") == F("a")
    assert condition("((a))") == F("a")


# ---- expectations -----------------------------------------------------------------------


def test_expectation_shapes() -> None:
    exp = item("expect conditional: use of email from contact for marketing with partner requires a or b")
    assert exp == ast.Expectation(
        decision="conditional",
        query=ast.Query(action="use", data=T("email"), source=T("contact"), purpose=T("marketing"),
                        recipient=T("partner"), facts=None),
        requires=ast.Or(operands=(F("a"), F("b"))),
    )


def test_given_nothing_is_the_empty_fact_set() -> None:
    exp = item("expect deny: use of email for marketing given nothing")
    assert isinstance(exp, ast.Expectation)
    assert exp.query.facts == ()


def test_no_given_clause_means_facts_unknown() -> None:
    exp = item("expect deny: use of email for marketing")
    assert isinstance(exp, ast.Expectation)
    assert exp.query.facts is None
    assert exp.requires is None


def test_given_facts() -> None:
    exp = item("expect allow: use of email for marketing given a, b")
    assert isinstance(exp, ast.Expectation)
    assert exp.query.facts == (T("a"), T("b"))


def test_expect_allow_and_deny() -> None:
    decisions = [e.decision for e in items("expect allow: retain of email\nexpect deny: retain of email")]
    assert decisions == ["allow", "deny"]


# ---- other statements --------------------------------------------------------------------


def test_right_retention_security() -> None:
    right, retention, all_retention, security = items(
        'right erasure via "privacy@open-e.com", "the account page"\n'
        'retention of email, name: "two years"\n'
        'retention of all data: "as long as needed"\n'
        'security "encryption", "firewalls"'
    )
    assert right == ast.Right(right=T("erasure"), channels=("privacy@open-e.com", "the account page"))
    assert retention == ast.Retention(data=(T("email"), T("name")), period="two years")
    assert all_retention == ast.Retention(data=None, period="as long as needed")
    assert security == ast.Security(measures=("encryption", "firewalls"))


# ---- strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "want"),
    [
        (r'"plain"', "plain"),
        (r'""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"ends with \\"', "ends with \\"),
        (r'"\n is n"', "n is n"),  # a backslash takes the next character literally
        ('"tab\there"', "tab\there"),
        ('"Zürich – 東京 😀"', "Zürich – 東京 😀"),
        ('"# not a comment"', "# not a comment"),
    ],
)
def test_string_escapes(literal: str, want: str) -> None:
    assert policy_of(f"data x {literal}\n").terms[0].label == want


# ---- spans -----------------------------------------------------------------------------------


def test_spans_point_at_their_text() -> None:
    text = (
        'policy "P"\n'
        'data email "E"\n'
        'section "Marketing":\n'
        "  allow use of email for marketing if not a and (b or c) basis consent\n"
        "  expect conditional: use email for marketing requires a\n"
        '  right erasure via "x"\n'
    )
    policy = policy_of(text)

    def at(node: ast.Node | None, span_name: str = "span") -> str:
        span = getattr(node, span_name)
        assert span is not None
        return text[span.start:span.end]

    section = policy.sections[0]
    rule, exp, right = section.items
    assert isinstance(rule, ast.Rule) and isinstance(exp, ast.Expectation) and isinstance(right, ast.Right)
    assert at(policy.meta) == 'policy "P"'
    assert at(policy.terms[0]) == 'data email "E"'
    assert at(policy.terms[0], "id_span") == "email"
    assert at(section, "title_span") == '"Marketing"'
    assert at(rule) == "allow use of email for marketing if not a and (b or c) basis consent"
    assert rule.data is not None and at(rule.data[0]) == "email"
    assert at(rule.purposes[0]) == "marketing"
    assert at(rule.condition) == "not a and (b or c)"
    assert isinstance(rule.condition, ast.And)
    assert at(rule.condition.operands[0]) == "not a"
    assert at(rule.condition.operands[1]) == "b or c"
    assert at(rule.basis) == "consent"
    assert at(exp) == "expect conditional: use email for marketing requires a"
    assert at(exp.query) == "use email for marketing"
    assert at(exp.query.purpose) == "marketing"
    assert at(exp.requires) == "a"
    assert at(right.right) == "erasure"


def test_equality_ignores_spans_and_layout() -> None:
    one = policy_of('data email "E"\nsection "S":\n  allow use of email\n')
    two = policy_of('\n\n   data   email   "E"\n\n\nsection "S"  :  allow use email')
    assert one == two
    assert one.terms[0].span != two.terms[0].span
    assert hash(one) == hash(two)


def test_parse_keeps_the_source() -> None:
    src = Source('data email "E"\n', "p.policy")
    result = parse(src)
    assert result.source is src
    assert result.policy is not None


# ---- syntax errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('data email "E', "parse.unterminated_string"),
        ("data email", "parse.unexpected_end"),
        ('data email "E";', "parse.unexpected_character"),
        ('section "S"\n  allow use of email', "parse.unexpected_token"),
        ('section "S":\n  allow use of email if (a', "parse.unexpected_end"),
        ('section "S":\n  allow use of email if a &', "parse.unexpected_character"),
        ('sektion "S":\n', "parse.unexpected_token"),
        ('section "S":\n  allow usse of email', "parse.unexpected_token"),
    ],
)
def test_syntax_error_is_one_diagnostic_and_no_policy(text: str, code: str) -> None:
    result = parse_text(text, "t.policy")
    assert result.policy is None
    assert [d.code for d in result.diagnostics] == [code]
    d = result.diagnostics[0]
    assert d.file == "t.policy" and d.line is not None and d.column is not None
    assert d.is_error


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ('sektion "S":\n', "section"),
        ('section "S":\n  allow usse of email', "use"),
        ('section "S":\n  allow use of email if a & b', "`and`"),
        ("data email ‘E’", "double quotes"),
    ],
)
def test_common_mistakes_get_help(text: str, word: str) -> None:
    (d,) = parse_text(text).diagnostics
    assert d.help is not None and word in d.help


def test_unexpected_end_points_inside_the_text() -> None:
    text = "data email   \n\n"
    (d,) = parse_text(text).diagnostics
    assert d.code == "parse.unexpected_end"
    assert (d.line, d.column) == (1, 10)


def test_unexpected_end_of_whitespace_only_file_is_not_reachable() -> None:
    assert parse_text("   \n").diagnostics == []


def test_unexpected_end_ignores_a_trailing_comment() -> None:
    text = "data email  # the label is missing\n"
    (d,) = parse_text(text).diagnostics
    assert d.code == "parse.unexpected_end"
    assert d.line == 1 and d.column is not None and d.column <= len("data email") + 1


def test_builder_diagnostics_keep_the_policy() -> None:
    result = parse_text('policy "P"\n  updated 2018-02-30\n')
    assert [d.code for d in result.diagnostics] == ["parse.invalid_date"]
    assert result.policy is not None and result.policy.meta == ast.Metadata(name="P", updated=None)


def test_duplicate_metadata_keeps_the_first() -> None:
    result = parse_text('policy "P"\n  contact "first"\n  contact "second"\n')
    assert [d.code for d in result.diagnostics] == ["parse.duplicate_metadata"]
    assert result.policy is not None and result.policy.meta is not None
    assert result.policy.meta.contact == "first"


def test_requires_without_conditional_is_dropped() -> None:
    result = parse_text(DECLS + 'section "S":\n  expect allow: use of email for marketing requires a\n')
    assert [d.code for d in result.diagnostics] == ["parse.requires_without_conditional"]
    assert result.policy is not None
    (exp,) = result.policy.sections[0].items
    assert isinstance(exp, ast.Expectation) and exp.requires is None


def test_one_term_per_question_keeps_the_first_and_points_at_the_rest() -> None:
    text = DECLS + 'section "S":\n  expect deny: share of email with partner, partner.x, other\n'
    result = parse_text(text)
    (d,) = result.diagnostics
    assert d.code == "parse.one_term_per_question"
    assert d.span is not None and text[d.span.start:d.span.end] == "partner.x, other"
    assert result.policy is not None
    (exp,) = result.policy.sections[0].items
    assert isinstance(exp, ast.Expectation) and exp.query.recipient == T("partner")


@pytest.mark.parametrize("cond", ["not " * 3000 + "a", "(a and " * 3000 + "a" + ")" * 3000], ids=["not", "and"])
def test_deeply_nested_condition_is_a_diagnostic_not_a_crash(cond: str) -> None:
    """parse() promises never to raise: either it reads the condition or it says parse.too_deep."""
    result = parse_text(DECLS + f'section "S":\n  allow use of email if {cond}\n')
    if result.policy is None:
        assert [d.code for d in result.diagnostics] == ["parse.too_deep"]
    else:
        assert result.diagnostics == []


def test_moderately_nested_condition_parses() -> None:
    cond = condition("not " * 200 + "a")
    depth = 0
    while isinstance(cond, ast.Not):
        cond, depth = cond.operand, depth + 1
    assert depth == 200 and cond == F("a")


# ---- every syntax error of a file ------------------------------------------------------------


def test_every_syntax_error_is_reported_in_position_order() -> None:
    text = (DECLS + 'data label "unclosed\n'
            'section "S":\n'
            "  allow usse of email\n"
            "  deny share of email with; partner\n"
            "  allow use of email for marketing if a or\n")
    result = parse_text(text, "t.policy")
    assert result.policy is None
    got = [(d.code, d.line) for d in result.diagnostics]
    assert got == [("parse.unterminated_string", 13), ("parse.unexpected_token", 15),
                   ("parse.unexpected_character", 16), ("parse.unexpected_end", 17)]
    starts = [d.span.start for d in result.diagnostics if d.span is not None]
    assert starts == sorted(starts)


def test_each_error_keeps_its_own_words_and_help() -> None:
    first, second = parse_text('section "S":\n  allow usse of email\n  allow use of email if a & b\n').diagnostics
    assert first.help is not None and "use" in first.help
    assert second.code == "parse.unexpected_character" and second.help is not None and "`and`" in second.help


def test_a_missing_heading_colon_is_supplied_so_the_section_is_still_read() -> None:
    diags = parse_text('section "S"\n  allow use of email\n  allow usse of email\n').diagnostics
    assert [(d.code, d.line, d.column) for d in diags] == [("parse.unexpected_token", 2, 3),
                                                           ("parse.unexpected_token", 3, 9)]


def test_one_mistake_is_one_error() -> None:
    """Rules outside any section are skipped up to the next statement they can follow."""
    diags = parse_text('allow use of email\nallow use of name\ndata email "E"\nallow x\n').diagnostics
    assert [(d.code, d.line) for d in diags] == [("parse.unexpected_token", 1), ("parse.unexpected_token", 4)]


def test_recovery_ends_on_the_last_line() -> None:
    diags = parse_text('data email "E"\ndata x "unclosed').diagnostics
    assert [d.code for d in diags] == ["parse.unterminated_string"]


# ---- hints that match the mistake ------------------------------------------------------------


def _help(body: str) -> str:
    (d,) = parse_text(DECLS + 'section "S":\n' + body).diagnostics
    assert d.help is not None
    return d.help


def test_clause_order_in_an_expectation_is_the_question_order() -> None:
    hint = _help("  expect deny: use of email for marketing from forum\n")
    assert hint.startswith("a question's clauses come in this order") and "given FACTS" in hint
    assert "basis" not in hint and "`if" not in hint
    assert _help("  expect deny: use of email given a for marketing\n").startswith("a question's clauses")
    assert _help("  allow use of email for marketing from forum\n").startswith("a rule's clauses")


@pytest.mark.parametrize("body", ['  retention of email "90 days"\n', '  retention of all data "90 days"\n',
                                  "  retention email: \"90 days\"\n", "  retention of email\n  allow use of email\n"])
def test_retention_mistakes_show_how_retention_is_written(body: str) -> None:
    hint = _help(body)
    assert 'retention of DATA: "period"' in hint and "heading" not in hint


def test_given_not_says_that_given_lists_the_facts_that_hold() -> None:
    hint = _help("  expect deny: use of email for marketing given a, not b\n")
    assert "facts that hold" in hint and "not listed is false" in hint and "`not b`" in hint
    assert "facts that hold" in _help("  expect deny: use of email for marketing given a and b\n")


def test_a_broken_expectation_does_not_swallow_the_next_rule() -> None:
    """Recovery leaves the broken statement first: the `deny` below is a rule, not that
    expectation's `deny:`, so its own mistake is reported with its own hint."""
    diags = parse_text(DECLS + 'section "S":\n  expect given a allow: use of email\n  deny use of email email\n'
                       ).diagnostics
    assert [(d.line, d.column) for d in diags] == [(14, 10), (15, 21)]
    assert diags[0].help is not None and diags[0].help.startswith("an expectation starts with the answer")
    assert diags[1].help is not None and "commas" in diags[1].help


def test_statements_the_grammar_grew_are_named_in_words_and_resynchronised_at() -> None:
    """The statement keywords are read off the grammar: no terminal name (`note_word`) in a
    message, and a broken line before `audience` leaves the audience statement to be read."""
    diags = parse_text(DECLS + 'section "S":\n  allow use of email email\n  audience a oops\n').diagnostics
    assert [d.line for d in diags] == [14, 15]
    assert all("note_word" not in d.message and "effective" not in d.message for d in diags)
    assert "a new statement" in diags[0].message


def test_rule_clause_order_after_the_last_clause() -> None:
    assert _help("  allow use of email basis consent if a\n").startswith("a rule's clauses come in this order")


def test_a_missing_colon_after_the_expected_answer() -> None:
    assert _help("  expect allow use of email\n").startswith("put a colon after the expected answer")


def test_a_clause_keyword_written_twice() -> None:
    assert _help("  allow use of email for for marketing\n") == "`for` is written twice: write `for marketing`"


def test_every_terminal_a_message_can_name_is_in_words() -> None:
    """No grammar terminal reaches a message as its internal name (`int`, `note_word`)."""
    from policy_engine.language.grammar import lark_parser
    from policy_engine.language.syntax_errors import _terminal_word

    for term in lark_parser().terminals:
        if term.name not in ("WS", "COMMENT"):  # layout: never expected
            word = _terminal_word(term.name)
            assert word != term.name.lower() and ("`" in word or " " in word), (term.name, word)
