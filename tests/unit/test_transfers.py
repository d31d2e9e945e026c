"""Transfers: `in REGION under SAFEGUARD` read by both parsers alike and printed back, the checks
(a destination only on a transfer, a safeguard on every allowed one), the decision (a destination
matched like a dimension: a rule naming one and a question leaving it out follow fail-closed), the
safeguard in reasons, and the promise `no share in REGION except under S1, S2`."""

from __future__ import annotations

import pytest

from policy_engine import QueryError, api
from policy_engine.guard.invariants import check_invariants
from policy_engine.language import ast, fast_parse, parser, printer
from policy_engine.language.source import Source

HEAD = '''policy "T"
data account "Account"
data account.email "E-mail"
recipient service_provider "Service providers"
recipient analytics_provider "Analytics providers"
purpose support "Support"
region region "Any region"
region region.eea "The EEA"
region region.eea.germany "Germany"
region region.us "United States"
safeguard standard_contractual_clauses "Standard contractual clauses"
safeguard certification "Certification frameworks"
safeguard certification.data_privacy_framework "EU-U.S. Data Privacy Framework"
fact resident "A resident"
fact resident.eea "Lives in the EEA"
fact consent "Consent"

section "Transfers":
'''

RULES = '''  allow share of account with service_provider in region.us under certification.data_privacy_framework
  allow share of account with service_provider in region.eea, region.us under standard_contractual_clauses if resident.eea
  deny share of account with analytics_provider in region.us if not consent
  allow share of account with analytics_provider
'''


def load(body: str = RULES) -> api.Policy:
    return api.loads(HEAD + body, "t.policy")


def ask(policy: api.Policy, facts: list[str] | None = None, **fields: str) -> tuple[str, list[int]]:
    query = {"action": "share", "data": "account", "recipient": "service_provider", **fields, "facts": facts}
    d = policy.decide(query)
    return d.decision, [r.line for r in d.reasons]


# ---- syntax ------------------------------------------------------------------------------------


def test_both_parsers_read_a_transfer_alike_and_the_printer_gives_it_back():
    text = HEAD + RULES + '''  expect allow: share of account with service_provider in region.us given nothing
  no share in region.us except under certification, standard_contractual_clauses
  never share of account with analytics_provider in region.eea
'''
    source = Source(text, "t.policy")
    reference = parser.parse_reference(source)
    assert not reference.diagnostics
    fast = fast_parse.parse_fast(source)
    assert fast == reference.policy
    rule = fast.rules()[1][1]
    assert [r.id for r in rule.destinations] == ["region.eea", "region.us"]
    assert rule.safeguard is not None and rule.safeguard.id == "standard_contractual_clauses"
    exp = fast.expectations()[0][1]
    assert exp.query.destination is not None and exp.query.destination.id == "region.us"
    (no, never) = [inv for _, inv in fast.invariants()]
    assert [r.id for r in no.safeguards] == ["certification", "standard_contractual_clauses"]
    assert [r.id for r in never.destinations] == ["region.eea"]
    printed = printer.format_policy(fast)
    assert parser.parse(Source(printed, "p.policy")).policy == fast
    assert printer.format_rule(rule) == ("allow share of account with service_provider in region.eea, region.us "
                                         "under standard_contractual_clauses if resident.eea")


def test_the_formatter_keeps_a_transfer_and_its_comments():
    from policy_engine.language.formatter import format_text

    text = HEAD + "  allow share of account  with service_provider   in region.us  # abroad\n" \
        "    under standard_contractual_clauses\n"
    out = format_text(text).text
    assert "    in region.us  # abroad\n    under standard_contractual_clauses\n" in out
    assert format_text(out).text == out
    assert [r.text for r in api.loads(out).compiled.rules] == [r.text for r in api.loads(text).compiled.rules]


# ---- checks --------------------------------------------------------------------------------------


def diagnostics(body: str) -> list[tuple[str, str, str | None]]:
    result = api.check_text(HEAD + body)
    return [(d.code, d.message, d.help) for d in result.diagnostics if d.severity.value == "error"]


def test_an_allowed_transfer_must_state_its_safeguard():
    (diag,) = diagnostics("  allow share of account with service_provider in region.us\n")
    assert diag == ("check.missing_safeguard", "this rule allows a transfer to region.us but does not state the "
                    "safeguard it relies on", "add `under SAFEGUARD` after `in region.us`; the declared safeguards "
                    "are `standard_contractual_clauses`, `certification`, `certification.data_privacy_framework`")


def test_the_error_points_at_the_destination():
    result = api.check_text(HEAD + "  allow share of account with service_provider in region.us\n", "t.policy")
    (d,) = [d for d in result.diagnostics if d.code == "check.missing_safeguard"]
    assert (d.line, d.column) == (HEAD.count("\n") + 1, len("  allow share of account with service_provider in ") + 1)


@pytest.mark.parametrize("rule, code", [
    ("deny share of account with service_provider in region.us under standard_contractual_clauses",
     "check.safeguard_on_deny"),
    ("allow share of account with service_provider under standard_contractual_clauses",
     "check.safeguard_without_destination"),
    ("allow use of account for support in region.us under standard_contractual_clauses",
     "check.destination_not_transfer"),
    ("allow collect of account in region.us under standard_contractual_clauses", "check.destination_not_transfer"),
    ("allow share of account with service_provider in region.usa under standard_contractual_clauses",
     "check.unknown_term"),
    ("allow share of account with service_provider in region.us under scc", "check.unknown_term"),
    ("allow share of account with service_provider in support under standard_contractual_clauses", "check.wrong_kind"),
])
def test_misplaced_destinations_and_safeguards(rule, code):
    assert code in [c for c, _, _ in diagnostics(f"  {rule}\n")]


def test_a_deny_on_a_destination_and_a_collect_by_a_recipient_check():
    assert not diagnostics("  deny share of account with service_provider in region.us\n"
                           "  allow collect of account with analytics_provider in region.us under certification\n")


# ---- decisions -----------------------------------------------------------------------------------


def test_a_rule_naming_a_destination_covers_it_and_its_narrower_regions():
    p = load()
    assert ask(p, [], destination="region.us") == ("allow", [19])
    assert ask(p, ["resident.eea"], destination="region.eea.germany") == ("allow", [20])
    assert ask(p, ["resident.eea"], destination="region.us") == ("allow", [19, 20])
    assert ask(p, [], destination="region.eea") == ("deny", [])


def test_an_allow_naming_a_destination_is_not_proven_by_a_question_leaving_it_out():
    p = load()
    assert ask(p, ["resident.eea"]) == ("deny", [])
    assert ask(p, None) == ("deny", [])  # partial evaluation: still no allow matches
    assert ask(p, None, destination="region.eea") == ("conditional", [20])
    assert p.decide({"action": "share", "data": "account", "recipient": "service_provider",
                     "destination": "region.eea"}).requires == "resident.eea"


def test_a_deny_naming_a_destination_applies_to_a_question_leaving_it_out():
    p = load()
    analytics = {"recipient": "analytics_provider"}
    assert ask(p, [], **analytics) == ("deny", [21])
    assert ask(p, ["consent"], **analytics) == ("allow", [22])
    assert ask(p, [], destination="region.eea", **analytics) == ("allow", [22])
    d = p.decide({"action": "share", "data": "account", "recipient": "analytics_provider"})
    assert (d.decision, d.requires) == ("conditional", "consent")


def test_the_safeguard_is_reported_in_reasons_after_the_basis():
    d = load().decide({"action": "share", "data": "account.email", "recipient": "service_provider",
                       "destination": "region.us", "facts": ["resident.eea"]})
    assert [r.safeguard for r in d.reasons] == ["certification.data_privacy_framework", "standard_contractual_clauses"]
    reason = d.to_dict()["reasons"][0]
    assert list(reason)[-2:] == ["basis", "safeguard"]
    plain = load().decide({"action": "share", "data": "account", "recipient": "analytics_provider", "facts": []})
    assert "safeguard" not in plain.to_dict()["reasons"][0]


def test_an_unknown_region_is_an_error_naming_it_with_suggestions():
    with pytest.raises(QueryError) as err:
        load().decide({"action": "share", "data": "account", "recipient": "service_provider",
                       "destination": "region.usa"})
    assert err.value.code == "query.unknown_term" and err.value.field == "destination"
    assert err.value.message == "unknown region `region.usa`" and "region.us" in err.value.suggestions
    with pytest.raises(QueryError) as err:
        load().decide({"action": "share", "data": "account", "recipient": "service_provider",
                       "destination": "service_provider"})
    assert err.value.message == "`service_provider` is a recipient, not a region"


def test_a_policy_without_transfers_answers_a_question_with_a_destination_as_without():
    p = load("  allow share of account with service_provider\n")
    assert not p.compiled.index.transfers
    assert ask(p, [], destination="region.us") == ask(p, []) == ("allow", [19])


def test_the_memo_tells_questions_apart_by_destination():
    p = load()
    assert ask(p, [], destination="region.us")[0] == "allow"
    assert ask(p, [])[0] == "deny"
    assert p.decide_many([{"action": "share", "data": "account", "recipient": "service_provider", "facts": [],
                           "destination": d} for d in ("region.us", "region.eea")])[1].decision == "deny"


# ---- downstream ----------------------------------------------------------------------------------


def test_explain_names_the_safeguard_or_why_transfer_rules_wait_for_a_destination():
    p = load()
    text = p.explain({"action": "share", "data": "account", "recipient": "service_provider",
                      "destination": "region.us", "facts": []})
    assert "Question: share of account with service_provider in region.us given nothing." in text
    assert "The transfer to region.us relies on certification.data_privacy_framework." in text
    waiting = p.explain({"action": "share", "data": "account", "recipient": "service_provider", "facts": []})
    assert "name a destination (region.us or region.eea), and the question names none" in waiting


def test_the_map_lists_the_transfers_in_words():
    from policy_engine.engine import words

    (first, second) = load().transfers()
    assert first.to_dict()["destinations"] == ["region.us"]
    assert words.transfer(second) == ("account shared with service_provider in region.eea or region.us under "
                                      "standard_contractual_clauses, only if resident.eea")


def test_the_record_of_processing_lists_transfers_and_safeguards():
    from policy_engine.render import ropa

    p = load(RULES + "  allow use of account for support\n")
    (row,) = ropa.record(p).activities
    assert "Service providers in United States, under EU-U.S. Data Privacy Framework" in row.transfers
    assert "(only if “Lives in the EEA”)" in row.transfers
    assert ropa.record(load("  allow use of account for support\n")).activities[0].transfers \
        == ropa.NOT_STATABLE_TRANSFERS


def test_a_promise_except_under_safeguards():
    body = RULES.replace("  allow share of account with analytics_provider\n", "")
    held = load(body + "  no share in region.us except under certification, standard_contractual_clauses\n")
    assert all(r.ok for r in check_invariants(held))
    broken = load(body + "  no share in region.us except under standard_contractual_clauses\n")
    (result,) = check_invariants(broken)
    assert not result.ok
    assert result.wanted == "every rule that allows it relies on standard_contractual_clauses"
    (v,) = result.violations
    assert v.message == ("a rule that allows it relies on certification.data_privacy_framework, not "
                         "standard_contractual_clauses")
    assert v.query["destination"] == "region.us" and v.rule is not None and v.rule["line"] == 19


def test_a_rule_open_on_destination_breaks_the_promise():
    p = load("  allow share of account with service_provider\n"
             "  no share with service_provider in region.us except under standard_contractual_clauses\n")
    (result,) = check_invariants(p)
    assert [v.message for v in result.violations] == [
        "a rule that allows it states no safeguard (it names no destination), not standard_contractual_clauses"]


def test_never_on_a_destination():
    p = load(RULES + "  never share with analytics_provider in region.us\n")
    (result,) = check_invariants(p)
    assert not result.ok and result.violations[0].query["destination"] == "region.us"
    assert result.violations[0].requires == "consent"


def test_diff_sees_a_changed_destination():
    from policy_engine.guard.diff import semantic_diff

    old = load("  allow share of account with service_provider in region.eea under standard_contractual_clauses\n")
    new = load("  allow share of account with service_provider in region.eea, region.us under "
               "standard_contractual_clauses\n")
    d = semantic_diff(old, new)
    assert d.widened and not d.narrowed
    changed = {c["query"]["destination"] for c in d.changes()}
    assert changed == {"region.us"}
    assert any("in region.us" in g.sentence for g in d.groups)


def test_the_lexer_knows_the_new_words():
    from pygments.token import Keyword, Name

    from policy_engine.language.highlight import PolicyLexer

    tokens = list(PolicyLexer().get_tokens(HEAD + RULES))
    kinds = {v: t for t, v in tokens}
    assert kinds["in"] in Keyword and kinds["under"] in Keyword and kinds["region"] in Keyword
    assert kinds["standard_contractual_clauses"] in Name


def test_destination_is_one_of_the_query_fields():
    from policy_engine.engine.query import FIELD_ORDER, Query

    assert "destination" in FIELD_ORDER and Query(action="share", data="a", destination="region.us").destination
    assert ast.kind_of("destination") == "region"


def test_the_document_for_lawyers_says_where_and_under_what():
    from policy_engine.render import document

    result = api.check_text(HEAD + RULES + "  no share in region.us except under certification, "
                            "standard_contractual_clauses\n", "t.policy")
    assert result.ok, [d.render() for d in result.diagnostics]
    md = document.render(result.policy, result.source, "markdown")
    assert "We **may** share Account (`account`) with Service providers (`service_provider`) in United States " \
           "(`region.us`), relying on EU-U.S. Data Privacy Framework (`certification.data_privacy_framework`)." in md
    assert "in The EEA (`region.eea`) or United States (`region.us`), relying on Standard contractual clauses " \
           "(`standard_contractual_clauses`), **only if**" in md
    assert "we do not share any personal data in United States except relying on Certification frameworks or " \
           "Standard contractual clauses." in md


def test_the_language_server_knows_regions_and_safeguards():
    from policy_engine.lsp.analysis import analyse_text, completion_context

    text = HEAD + RULES + "  expect allow: share of account with service_provider in region.us given nothing\n" \
        "  no share in region.us except under standard_contractual_clauses\n"
    a = analyse_text(text)
    kinds = {(r.kind, r.id) for r in a.references}
    assert {("region", "region.us"), ("region", "region.eea"), ("safeguard", "standard_contractual_clauses"),
            ("safeguard", "certification.data_privacy_framework")} <= kinds
    assert len(a.uses("region", "region.us")) == 5  # three rules, the question, the promise
    for typed, kind in (("  allow share of account with service_provider in reg", "region"),
                        ("  allow share of a with s in region.us under sta", "safeguard"),
                        ("  no share in region.us except under ", "safeguard")):
        assert completion_context(typed, len(typed))[0] == kind, typed
    assert a.ids("safeguard") == ["certification", "certification.data_privacy_framework",
                                  "standard_contractual_clauses"]
