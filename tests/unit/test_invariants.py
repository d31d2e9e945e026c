"""invariants.py: the `never` / `every` / `no` promises, parsed, checked, and evaluated over the
whole question space. A broken promise names a concrete question that breaks it (and the engine
really answers that question as reported) and the rule(s) responsible."""

from __future__ import annotations

from typing import Any

import pytest

from policy_engine import api

from policy_engine.language import ast
from policy_engine.language.diagnostics import Diagnostic, PolicyError
from policy_engine.guard.invariants import MAX_EXAMPLES, InvariantResult, check_invariants
from policy_engine.language.parser import parse_text
from policy_engine.language.printer import format_invariant
from policy_engine import Policy
from policy_engine.engine.loader import load_path, load_text

from paths import OPEN_E

VOCAB = """\
data email "E-mail address"
data cookie "Cookies"
data cookie.analytics "Analytics cookies"
data cookie.essential "Essential cookies"
source contact "Contact form"
source forum "Forum"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
purpose support "Support"
recipient service_provider "Service providers"
recipient service_provider.payment "Payment processing"
recipient partner "Partners"
fact newsletter_form "Subscribed through the form"
fact notification_settings "Configured the settings"
"""
VOCAB_LINES = VOCAB.count("\n")
FIRST = VOCAB_LINES + 2  # line of the first statement after `section "S":`


def load(body: str) -> Policy:
    return load_text(VOCAB + 'section "S":\n' + body, "t.policy")


def results(body: str) -> list[InvariantResult]:
    return check_invariants(load(body))


def only(body: str) -> InvariantResult:
    out = results(body)
    assert len(out) == 1, out
    return out[0]


def decide(loaded: Policy, query: dict[str, Any], facts: list[str] | None = None) -> str:
    return loaded.decide({**query, "facts": facts}).decision


def rule_lines(reasons: list[dict[str, Any]]) -> list[int]:
    return [r["line"] for r in reasons]


# ---- parsing --------------------------------------------------------------------------------


def parse_one(statement: str) -> ast.Invariant:
    parsed = parse_text(VOCAB + 'section "S":\n  ' + statement + "\n", "p.policy")
    assert parsed.diagnostics == [], [d.render() for d in parsed.diagnostics]
    assert parsed.policy is not None
    (_, inv), = parsed.policy.invariants()
    return inv


def ids(refs: tuple[ast.TermRef, ...] | None) -> list[str] | None:
    return None if refs is None else [r.id for r in refs]


def test_never_parses() -> None:
    inv = parse_one("never use of email from forum for marketing")
    assert (inv.form, inv.action, ids(inv.data), ids(inv.sources), ids(inv.purposes)) == \
        ("never", "use", ["email"], ["forum"], ["marketing"])
    assert inv.recipients == () and inv.basis is None and inv.without is None and inv.unless is None


def test_every_has_basis_parses_with_all_data() -> None:
    inv = parse_one("every share with service_provider has basis contract")
    assert (inv.form, inv.action, inv.data, ids(inv.recipients)) == ("every", "share", None, ["service_provider"])
    assert inv.basis is not None and inv.basis.id == "contract"


def test_no_unless_parses_a_condition() -> None:
    inv = parse_one("no use of email for marketing unless newsletter_form or notification_settings")
    assert inv.form == "no" and isinstance(inv.unless, ast.Or)
    assert sorted(o.name for o in inv.unless.operands if isinstance(o, ast.FactRef)) == \
        ["newsletter_form", "notification_settings"]


@pytest.mark.parametrize("word", ["consent", "newsletter_form"])
def test_no_without_parses_a_basis_or_a_fact(word: str) -> None:
    inv = parse_one(f"no use of email for marketing without {word}")
    assert inv.form == "no" and inv.without is not None and inv.without.id == word
    assert inv.unless is None and inv.exceptions == ()


def test_no_except_parses_a_list() -> None:
    inv = parse_one("no share with service_provider, partner except cookie, email")
    assert (inv.data, ids(inv.recipients), ids(inv.exceptions)) == (None, ["service_provider", "partner"],
                                                                     ["cookie", "email"])


@pytest.mark.parametrize("statement", [
    "never use of email from forum for marketing",
    "never share with partner",
    "every share with service_provider has basis contract",
    "no use of email for marketing unless newsletter_form or notification_settings",
    "no use of email for marketing without consent",
    "no use of email from forum without newsletter_form",
    "no share with service_provider, partner except cookie",
])
def test_printer_writes_the_invariant_back(statement: str) -> None:
    assert format_invariant(parse_one(statement)) == statement


def test_invariant_keyword_after_a_rule_condition_starts_a_new_statement() -> None:
    inv = parse_one("never use of cookie for marketing")
    assert inv.form == "never"
    loaded = load("  allow use of email for marketing if newsletter_form basis consent\n"
                  "  no use of email for marketing unless newsletter_form\n")
    ((_, rule),) = loaded.tree.rules()
    assert isinstance(rule.condition, ast.FactRef)  # `no` did not become part of the condition
    assert len(loaded.tree.invariants()) == 1


# ---- checking -------------------------------------------------------------------------------


def check_diags(body: str) -> list[Diagnostic]:
    result = api.check_text(VOCAB + 'section "S":\n' + body, "c.policy")
    return list(result.diagnostics)


def found(body: str) -> list[tuple[str, int | None, int | None]]:
    return [(d.code, d.line, d.column) for d in check_diags(body) if d.code != "check.unused_term"]


@pytest.mark.parametrize(("statement", "code", "column"), [
    ("never use of emial for marketing", "check.unknown_term", 16),
    ("never use of email from forun", "check.unknown_term", 27),
    ("never use of email for marketting", "check.unknown_term", 26),
    ("no share with partnr except cookie", "check.unknown_term", 17),
    ("no share with partner except cooki", "check.unknown_term", 32),
    ("every share with service_provider has basis contrac", "check.unknown_basis", 47),
    ("no use of email for marketing without newsletter_frm", "check.unknown_requirement", 41),
    ("no use of email for marketing unless newsletter_frm", "check.unknown_fact", 40),
    ("never use of marketing", "check.wrong_kind", 16),
    ("no use of email unless newsletter_form and not newsletter_form", "check.unsatisfiable_condition", 26),
])
def test_bad_invariants_are_diagnostics_at_the_term(statement: str, code: str, column: int) -> None:
    assert found("  " + statement + "\n") == [(code, FIRST, column)]
    with pytest.raises(PolicyError) as err:
        load("  " + statement + "\n")
    assert err.value.code == code


def test_unknown_requirement_suggests_a_basis_or_a_fact() -> None:
    (d,) = [d for d in check_diags("  no use of email without consnt\n") if d.code == "check.unknown_requirement"]
    assert d.help is not None and "`consent`" in d.help


def test_exception_outside_the_scope_is_a_warning() -> None:
    diags = check_diags("  allow share of cookie with partner\n  no share of cookie with partner except email\n")
    (d,) = [d for d in diags if d.code == "check.exception_outside_scope"]
    assert (d.line, d.column, d.is_error) == (FIRST + 1, 42, False)


def test_terms_named_only_by_invariants_count_as_used() -> None:
    text = ('data email "E"\npurpose marketing "M"\nrecipient partner "P"\nfact opt_in "O"\nsection "S":\n'
            '  allow use of email for marketing if opt_in basis consent\n'
            '  never share of email with partner\n'
            '  no use of email for marketing without opt_in\n')
    assert api.check_text(text, "u.policy").diagnostics == []


# ---- evaluation: never -------------------------------------------------------------------------


def test_never_holds_when_nothing_allows_it() -> None:
    r = only("  allow use of email from contact for support basis contract\n"
             "  never use of email from forum for marketing\n")
    assert r.ok and r.violations == [] and r.more == 0
    # email from forum, for marketing or marketing.newsletter, with any of 3 recipients or none
    assert r.checked == 1 * 1 * 2 * 4
    assert (r.line, r.section, r.file) == (FIRST + 1, "S", "t.policy")


def test_never_holds_when_a_deny_always_overrides() -> None:
    r = only("  allow use of email for marketing if newsletter_form basis consent\n"
             "  deny use of email from forum for marketing\n"
             "  never use of email from forum for marketing\n")
    assert r.ok


def test_never_fails_with_the_question_and_the_rule_that_allows_it() -> None:
    body = ("  allow use of email for support basis contract\n"
            "  allow use of email from contact, forum for marketing if newsletter_form basis consent\n"
            "  never use of email from forum for marketing\n")
    loaded = load(body)
    (r,) = check_invariants(loaded)
    assert not r.ok and len(r.violations) == 1
    v = r.violations[0]
    assert v.query == {"action": "use", "data": "email", "source": "forum", "purpose": "marketing",
                       "recipient": None, "facts": None}
    assert v.questions == 8 and r.more == 0
    assert (v.actual, v.requires) == ("conditional", "newsletter_form")
    assert rule_lines(v.reasons) == [FIRST + 1]
    assert v.reasons[0]["rule"].startswith("allow use of email from contact, forum for marketing")
    assert v.rule is None
    # the counterexample is real: the engine allows it once the form was filled in
    assert decide(loaded, v.query, ["newsletter_form"]) == "allow"


def test_never_on_a_parent_is_broken_by_a_rule_on_a_child_term() -> None:
    body = ("  allow use of email from contact for marketing.newsletter if newsletter_form basis consent\n"
            "  never use of email for marketing\n")
    loaded = load(body)
    (r,) = check_invariants(loaded)
    (v,) = r.violations
    assert (v.query["purpose"], v.query["source"], v.query["data"]) == ("marketing.newsletter", "contact", "email")
    assert v.questions == 4  # recipient: none or one of three
    assert rule_lines(v.reasons) == [FIRST]
    assert decide(loaded, v.query, ["newsletter_form"]) == "allow"


def test_never_on_a_child_is_broken_by_a_rule_on_its_parent() -> None:
    body = "  allow use of cookie for marketing\n  never use of cookie.analytics for marketing\n"
    loaded = load(body)
    (r,) = check_invariants(loaded)
    (v,) = r.violations
    assert v.query["data"] == "cookie.analytics" and v.query["purpose"] == "marketing"
    assert v.actual == "allow" and rule_lines(v.reasons) == [FIRST]
    assert decide(loaded, v.query, []) == "allow"


def test_a_deny_on_the_parent_keeps_a_never_on_the_child() -> None:
    r = only("  allow use of email for marketing.newsletter basis consent\n"
             "  deny use of email for marketing\n"
             "  never use of email for marketing.newsletter\n")
    assert r.ok and r.checked == 12


def test_a_deny_on_the_child_alone_does_not_keep_a_never_on_the_parent() -> None:
    body = ("  allow use of email for marketing basis consent\n"
            "  deny use of email for marketing.newsletter\n"
            "  never use of email for marketing\n")
    (r,) = results(body)
    assert not r.ok
    assert {v.query["purpose"] for v in r.violations} == {"marketing"}


def test_only_the_first_classes_are_shown_the_rest_counted() -> None:
    purposes = [f"p{i}" for i in range(MAX_EXAMPLES + 2)]
    text = 'data email "E"\n' + "".join(f'purpose {p} "P"\n' for p in purposes) + 'section "S":\n' + \
        "".join(f"  allow use of email for {p} basis contract\n" for p in purposes) + "  never use of email\n"
    (r,) = check_invariants(load_text(text, "m.policy"))
    assert len(r.violations) == MAX_EXAMPLES
    assert r.more == 2  # one question each (no source or recipient terms: each is left out)
    assert r.checked == len(purposes)  # a `use` question must name a purpose


# ---- evaluation: no ... unless / without FACT ----------------------------------------------------


def test_unless_holds_for_a_rule_with_the_same_or_a_stronger_condition() -> None:
    r = only("  allow use of email from contact for marketing if newsletter_form basis consent\n"
             "  allow use of email from forum for marketing if newsletter_form and notification_settings"
             " basis consent\n"
             "  no use of email for marketing unless newsletter_form\n")
    assert r.ok and r.checked == 3 * 2 * 4


def test_unless_is_broken_by_a_rule_with_a_weaker_condition() -> None:
    body = ("  allow use of email from contact for marketing if newsletter_form basis consent\n"
            "  allow use of email from forum for marketing.newsletter if newsletter_form or notification_settings"
            " basis consent\n"
            "  no use of email for marketing unless newsletter_form\n")
    loaded = load(body)
    (r,) = check_invariants(loaded)
    assert r.wanted == "allowed only when newsletter_form holds"
    (v,) = r.violations
    assert (v.query["source"], v.query["purpose"]) == ("forum", "marketing.newsletter")
    assert (v.actual, v.requires) == ("conditional", "newsletter_form or notification_settings")
    assert "`newsletter_form` does not hold" in v.message
    assert rule_lines(v.reasons) == [FIRST + 1]
    # the counterexample: only the settings were configured, no form filled in, and still allowed
    assert decide(loaded, v.query, ["notification_settings"]) == "allow"


def test_unless_is_broken_by_an_unconditional_rule() -> None:
    (r,) = results("  allow use of email for marketing basis consent\n"
                   "  no use of email for marketing unless newsletter_form or notification_settings\n")
    (v,) = r.violations
    assert v.actual == "allow" and v.questions == 3 * 2 * 4


def test_unless_holds_when_a_deny_takes_back_what_the_weaker_condition_allows() -> None:
    # the open_e pattern: a broad "only if" deny backs the allow's condition
    r = only("  allow use of email for marketing basis consent\n"
             "  deny use of email for marketing if not (newsletter_form or notification_settings)\n"
             "  no use of email for marketing unless newsletter_form or notification_settings\n")
    assert r.ok


def test_unless_with_a_compound_promise() -> None:
    r = only("  allow use of email for marketing if newsletter_form basis consent\n"
             "  no use of email for marketing unless newsletter_form and not notification_settings\n")
    (v,) = r.violations
    assert "newsletter_form and not notification_settings" in v.message


def test_without_a_fact_is_the_same_promise_as_unless() -> None:
    weaker = "  allow use of email from forum for marketing if notification_settings basis consent\n"
    (r,) = results(weaker + "  no use of email for marketing without newsletter_form\n")
    (v,) = r.violations
    assert r.wanted == "allowed only when newsletter_form holds"
    assert v.query["source"] == "forum" and v.requires == "notification_settings"
    assert only("  allow use of email for marketing if newsletter_form basis consent\n"
                "  no use of email for marketing without newsletter_form\n").ok


# ---- evaluation: no ... without BASIS / every ... has basis --------------------------------------


def test_without_basis_holds_for_conditional_rules_with_that_basis() -> None:
    assert only("  allow use of email for marketing if newsletter_form basis consent\n"
                "  allow use of email for support basis contract\n"
                "  no use of email for marketing without consent\n").ok


def test_without_basis_is_broken_by_another_basis_and_names_that_rule() -> None:
    (r,) = results("  allow use of email for marketing if newsletter_form basis consent\n"
                   "  allow use of email from forum for marketing.newsletter if notification_settings basis contract\n"
                   "  no use of email for marketing without consent\n")
    (v,) = r.violations
    assert v.rule is not None
    assert (v.rule["line"], v.rule["basis"], v.rule["section"]) == (FIRST + 1, "contract", "S")
    assert v.rule["rule"].endswith("basis contract")
    assert "basis contract, not basis consent" in v.message
    assert (v.query["source"], v.query["purpose"]) == ("forum", "marketing.newsletter")


def test_without_basis_is_broken_by_an_unconditional_consent_rule() -> None:
    (r,) = results("  allow use of email for marketing basis consent\n"
                   "  no use of email for marketing without consent\n")
    messages = [v.message for v in r.violations]
    assert any("unconditionally" in m for m in messages)
    blamed = [v for v in r.violations if v.rule is not None]
    assert len(blamed) == 1 and blamed[0].rule["line"] == FIRST and "no condition" in blamed[0].message


def test_without_basis_blames_each_rule_once() -> None:
    (r,) = results("  allow use of email for marketing if newsletter_form basis contract\n"
                   "  no use of email without consent\n")
    assert [v.rule["line"] for v in r.violations if v.rule] == [FIRST]


def test_every_has_basis_holds_and_fails() -> None:
    ok = only("  allow share of email with service_provider.payment basis contract\n"
              "  allow share of email with partner basis consent\n"
              "  every share with service_provider has basis contract\n")
    assert ok.ok and ok.checked == 4 * 3 * 4 * 2  # 4 data terms, 3 sources or none, ...
    body = ("  allow share of email with service_provider.payment basis legitimate_interests\n"
            "  allow share of cookie with service_provider\n"
            "  every share with service_provider has basis contract\n")
    (r,) = results(body)
    assert r.wanted == "every rule that allows it has basis contract"
    by_line = {v.rule["line"]: v for v in r.violations if v.rule}
    assert set(by_line) == {FIRST, FIRST + 1}
    assert "basis legitimate_interests, not basis contract" in by_line[FIRST].message
    assert "no basis, not basis contract" in by_line[FIRST + 1].message
    assert by_line[FIRST].query["recipient"] == "service_provider.payment"


def test_every_has_basis_ignores_a_rule_a_deny_always_overrides() -> None:
    assert only("  allow share of email with service_provider basis consent\n"
                "  deny share of email with service_provider\n"
                "  every share with service_provider has basis contract\n").ok
    # a deny that only sometimes holds leaves the allow granting
    (r,) = results("  allow share of email with service_provider basis consent\n"
                   "  deny share of email with service_provider if newsletter_form\n"
                   "  every share with service_provider has basis contract\n")
    assert [v.rule["line"] for v in r.violations if v.rule] == [FIRST]


# ---- evaluation: no ... except --------------------------------------------------------------------


def test_except_holds_for_the_excepted_data_and_its_children() -> None:
    r = only("  allow share of cookie with partner\n  no share with partner except cookie\n")
    assert r.ok and r.checked == 1 * 3 * 4 * 1  # email only


def test_except_a_child_is_broken_by_a_rule_on_its_parent() -> None:
    body = "  allow share of cookie with partner\n  no share with partner except cookie.analytics\n"
    loaded = load(body)
    (r,) = check_invariants(loaded)
    (v,) = r.violations
    # cookie and cookie.essential (which no rule tells apart from cookie) form one class
    assert v.query["data"] == "cookie" and v.questions == 2 * 3 * 4
    assert rule_lines(v.reasons) == [FIRST]
    assert "cookie.analytics" in r.wanted
    assert decide(loaded, {**v.query, "data": "cookie.essential"}, []) == "allow"


def test_an_invariant_no_question_falls_under_holds_vacuously() -> None:
    r = only("  allow share of cookie with partner\n"
             "  no share of cookie with partner except cookie, cookie.analytics\n")
    assert r.ok and r.checked == 0


# ---- the real policy -------------------------------------------------------------------------------


def test_every_invariant_of_open_e_holds_over_its_whole_scope() -> None:
    loaded = load_path(OPEN_E)
    out = check_invariants(loaded)
    assert len(out) >= 10
    lines = loaded.source.text.splitlines()
    for r in out:
        assert r.ok, (r.text, [v.__dict__ for v in r.violations])
        assert r.checked > 0, r.text
        assert lines[r.line - 1].strip().startswith(r.text.split()[0]), (r.line, r.text)
    assert "never use of email from forum for marketing" in {r.text for r in out}


def test_open_e_with_a_consent_condition_removed_breaks_its_invariant() -> None:
    text = OPEN_E.read_text(encoding="utf-8")
    assert "\n    if forum_emails_opt_in\n" in text
    loaded = load_text(text.replace("\n    if forum_emails_opt_in\n", "\n", 1), "policies/open_e.policy")
    broken = [r for r in check_invariants(loaded) if not r.ok]
    assert [r.text for r in broken] == [
        "no use of email from forum for forum_notifications without forum_emails_opt_in"]
    (v,) = broken[0].violations
    assert (v.query["data"], v.query["source"], v.query["purpose"]) == ("email", "forum", "forum_notifications")
    assert v.actual == "allow"
    assert [r["rule"] for r in v.reasons] == ["allow use of email from forum for forum_notifications basis consent"]
