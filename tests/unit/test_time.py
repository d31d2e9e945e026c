"""Time limits: syntax (both parsers, printer, checker), queries with times, and decisions at an
instant with `until` / `from`."""

from __future__ import annotations

import datetime as dt

import pytest

from policy_engine import QueryError, api
from policy_engine.language import ast, fast_parse, parser, printer
from policy_engine.language.source import Source

POLICY = '''policy "Timed"
data account "Account data"
data usage.ip_address "IP addresses"
data usage "Usage data"
data email "E-mail address"
purpose legal_obligations "Legal obligations"
purpose safety "Safety and security"
purpose marketing "Marketing"
fact account_closed "The account is closed"
fact account_closed.by_user "Closed by its owner"
fact newsletter_form "Subscribed"

section "Retention":
  allow retain of usage.ip_address for safety within 90 days
  allow retain of account for legal_obligations within 30 days after account_closed basis legal_obligation
  allow use of email for marketing if newsletter_form basis consent
  deny use of email for marketing after 2 years
  allow use of account for safety after 1 year after account_closed
'''


@pytest.fixture(scope="module")
def policy():
    return api.loads(POLICY, "timed.policy")


def ask(policy, **kw):
    q = {"action": "retain", "data": "account", "purpose": "legal_obligations"}
    q.update(kw)
    return policy.decide(q)


T0 = "2026-03-01T00:00:00Z"


# ---- syntax -----------------------------------------------------------------------------


SYNTAX = [
    "allow retain of usage.ip_address for safety within 90 days",
    "allow retain of account for legal_obligations within 30 days after account_closed basis legal_obligation",
    "deny use of email for marketing after 2 years",
    "allow use of account for safety after 1 year after account_closed if newsletter_form",
    "allow use of email for marketing if newsletter_form or not account_closed less than 4 weeks ago",
    "expect allow for 80 days: retain of usage.ip_address collected 10 days ago for safety given nothing",
    "expect allow: retain of account for legal_obligations given account_closed 10 days ago, newsletter_form",
    "expect conditional: retain of account for legal_obligations requires account_closed less than 30 days ago",
]


@pytest.mark.parametrize("line", SYNTAX)
def test_both_parsers_give_the_same_tree_and_the_printer_round_trips(line):
    text = POLICY + "  " + line + "\n"
    source = Source(text, "t.policy")
    fast = fast_parse.parse_fast(source)
    tree = parser.parse_reference(source)
    assert tree.diagnostics == []
    assert fast == tree.policy
    item = fast.sections[0].items[-1]
    assert " ".join(printer.format_item(item).split()) == line
    assert parser.parse_text(printer.format_policy(fast)).policy == fast
    assert item.span == tree.policy.sections[0].items[-1].span


def test_the_tree_holds_the_limit_as_written():
    result = parser.parse_text(POLICY)
    rule = result.policy.rules()[1][1]
    assert rule.time == ast.TimeLimit(form="within", duration=ast.Duration(count=30, unit="day"),
                                      anchor=ast.TermRef(id="account_closed"))
    exp = parser.parse_text(POLICY + "  " + SYNTAX[5] + "\n").policy.expectations()[0][1]
    assert exp.lasting == ast.Duration(count=80, unit="day")
    assert exp.query.collected == ast.Duration(count=10, unit="day")


@pytest.mark.parametrize("line, code, column", [
    ("allow retain of account for legal_obligations within 30 days after acount_closed", "check.unknown_fact", 70),
    ("allow retain of account for legal_obligations within 0 days", "check.zero_duration", 56),
    ("allow use of email for marketing if acount_closed less than 3 days ago", "check.unknown_fact", 39),
    ("allow retain of account for safety within 3 days after account_closed if not account_closed",
     "check.unsatisfiable_condition", 76),
    ("expect conditional for 3 days: retain of account for legal_obligations", "check.lasting_conditional", 26),
    ("allow retain of account for legal_obligations within 5000 years", "check.duration_too_long", 56),
    ("allow use of email for marketing if account_closed less than 9999999999 days ago", "check.duration_too_long", 39),
    ("expect allow: retain of usage.ip_address collected 1001 years ago for safety", "check.duration_too_long", 54),
    ("expect deny: retain of account for legal_obligations given account_closed 400000 days ago",
     "check.duration_too_long", 77),
    ('right delete via "privacy@example.com" within 99999 years', "check.duration_too_long", 49),
])
def test_check_errors_point_at_the_mistake(line, code, column):
    result = api.check_text(POLICY + "  " + line + "\n", "t.policy")
    found = [d for d in result.diagnostics if d.severity.value == "error"]
    assert [(d.code, d.line, d.column) for d in found] == [(code, 19, column)]
    assert found[0].help


def test_an_unknown_anchor_suggests_the_fact():
    result = api.check_text(POLICY + "  allow retain of account for safety within 3 days after acount_closed\n")
    (d,) = [d for d in result.diagnostics if d.code == "check.unknown_fact"]
    assert "did you mean `account_closed`" in d.render()


def test_a_fact_cannot_be_named_collected():
    result = api.check_text('fact collected "x"\nsection "s":\n  allow use of all data if collected\n')
    assert "check.reserved_term" in [d.code for d in result.diagnostics]


# ---- queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("query, field, words", [
    ({"at": "yesterday"}, "at", "not an RFC 3339 timestamp"),
    ({"at": "2026-03-01"}, "at", "a date alone"),
    ({"at": "2026-03-01T00:00:00"}, "at", "no time zone offset"),
    ({"at": "2026-02-30T00:00:00Z"}, "at", "not a moment in the calendar"),
    ({"at": 5}, "at", "not a number"),
    ({"collected_at": "soon"}, "collected_at", "not an RFC 3339"),
    ({"facts": {"account_closed": "March"}}, "facts.account_closed", "not an RFC 3339"),
    ({"facts": {"account_closed": False}}, "facts.account_closed", "leave out a fact"),
    ({"collected_at": "2027-01-01T00:00:00Z", "at": T0}, "collected_at", "after the instant asked about"),
    ({"at": dt.datetime(2026, 3, 1)}, "at", "without a time zone"),
    ({"at": "9999-12-31T00:00:00Z"}, "at", "outside the years 1000 to 8999"),
    ({"at": "0001-01-01T00:00:00+01:00"}, "at", "outside the years 1000 to 8999"),  # UTC is before the calendar
    ({"facts": {"account_closed": "9000-01-01T00:00:00Z"}}, "facts.account_closed", "outside the years"),
    ({"at": dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)}, "at", "outside the years"),
])
def test_bad_times_are_errors_naming_the_field(policy, query, field, words):
    with pytest.raises(QueryError) as info:
        ask(policy, **query)
    assert info.value.field == field
    assert words in info.value.message
    assert info.value.code in ("query.invalid_time", "query.wrong_type")


def test_an_unknown_fact_in_the_object_is_an_unknown_term(policy):
    with pytest.raises(QueryError) as info:
        ask(policy, facts={"acount_closed": T0})
    assert info.value.code == "query.unknown_term" and "account_closed" in info.value.suggestions


def test_aware_datetimes_are_accepted_from_python(policy):
    closed = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    got = ask(policy, facts={"account_closed": closed}, at=closed + dt.timedelta(days=5))
    assert got.decision == "allow" and got.until == "2026-03-31T00:00:00Z"


# ---- decisions --------------------------------------------------------------------------


def test_known_anchor_is_decided_exactly_at_the_instant(policy):
    inside = ask(policy, facts={"account_closed": T0}, at="2026-03-30T23:59:59Z")
    assert inside.decision == "allow" and inside.until == "2026-03-31T00:00:00Z"
    assert inside.reasons[0].limit == "within P30D after account_closed"
    at_end = ask(policy, facts={"account_closed": T0}, at="2026-03-31T00:00:00Z")
    assert at_end.decision == "deny" and at_end.until is None


def test_an_anchor_that_does_not_hold_makes_the_limit_false(policy):
    assert ask(policy, facts=[], at=T0).decision == "deny"
    assert ask(policy, facts={"newsletter_form": True}, at=T0).decision == "deny"


def test_a_fact_that_begins_after_the_instant_does_not_hold_yet(policy):
    got = ask(policy, facts={"account_closed": "2026-04-01T00:00:00Z"}, at=T0)
    assert got.decision == "deny" and got.from_ == "2026-04-01T00:00:00Z"
    assert got.to_dict()["from"] == "2026-04-01T00:00:00Z"


def test_unknown_anchor_time_fails_closed(policy):
    # an allow that needs it does not apply
    assert ask(policy, facts=["account_closed"], at=T0).decision == "deny"
    assert ask(policy, facts={"account_closed": True}, at=T0).decision == "deny"
    # a deny that needs it applies: marketing e-mail of unknown age is denied although consented
    got = policy.decide({"action": "use", "data": "email", "purpose": "marketing", "facts": ["newsletter_form"],
                         "at": T0})
    assert got.decision == "deny"
    assert [r.rule for r in got.reasons] == ["deny use of email for marketing after 2 years"]


def test_the_time_of_an_implying_fact_is_the_anchor_time(policy):
    got = ask(policy, facts={"account_closed.by_user": T0}, at="2026-03-10T00:00:00Z")
    assert got.decision == "allow" and got.until == "2026-03-31T00:00:00Z"


def test_facts_omitted_the_limit_is_required_in_words(policy):
    got = ask(policy)
    assert got.decision == "conditional" and got.requires == "account_closed less than 30 days ago"
    ip = policy.decide({"action": "retain", "data": "usage.ip_address", "purpose": "safety"})
    assert ip.requires == "collected less than 90 days ago"
    marketing = policy.decide({"action": "use", "data": "email", "purpose": "marketing"})
    assert marketing.requires == "collected less than 2 years ago and newsletter_form"


def test_facts_omitted_a_known_collection_time_is_put_in(policy):
    q = {"action": "retain", "data": "usage.ip_address", "purpose": "safety", "collected_at": T0}
    got = policy.decide({**q, "at": "2026-03-11T00:00:00Z"})
    assert got.decision == "allow" and got.until == "2026-05-30T00:00:00Z"
    assert policy.decide({**q, "at": "2026-05-30T00:00:00Z"}).decision == "deny"


def test_retain_until_is_the_deletion_deadline(policy):
    got = policy.decide({"action": "retain", "data": "usage.ip_address", "purpose": "safety", "facts": [],
                         "collected_at": T0, "at": T0})
    assert got.until == "2026-05-30T00:00:00Z"  # 90 days after collection


def test_from_on_a_deny_that_a_limit_lifts(policy):
    q = {"action": "use", "data": "account", "purpose": "safety", "facts": {"account_closed": T0}}
    before = policy.decide({**q, "at": "2026-06-01T00:00:00Z"})
    assert before.decision == "deny" and before.from_ == "2027-03-01T00:00:00Z"
    assert policy.decide({**q, "at": "2027-03-01T00:00:00Z"}).decision == "allow"


def test_an_allow_a_deny_limit_ends(policy):
    q = {"action": "use", "data": "email", "purpose": "marketing", "facts": ["newsletter_form"], "collected_at": T0}
    got = policy.decide({**q, "at": "2026-06-01T00:00:00Z"})
    assert got.decision == "allow" and got.until == "2028-02-29T00:00:00Z"  # 730 days


def test_answers_about_now_are_never_stale(policy):
    q = {"action": "retain", "data": "usage.ip_address", "purpose": "safety", "facts": []}
    old = policy.decide({**q, "collected_at": "2020-01-01T00:00:00Z"})
    fresh = policy.decide({**q, "collected_at": dt.datetime.now(dt.timezone.utc).isoformat()})
    assert (old.decision, fresh.decision) == ("deny", "allow")
    assert policy.decide(q).decision == "deny"  # collection time unknown


def test_a_policy_without_time_answers_as_before():
    plain = api.loads('data email "E"\npurpose marketing "M"\nfact f "F"\nsection "s":\n'
                      '  allow use of email for marketing if f\n')
    q = {"action": "use", "data": "email", "purpose": "marketing"}
    base = plain.decide(q).to_dict()
    assert plain.decide({**q, "at": T0, "collected_at": T0}).to_dict() == base
    assert plain.decide({**q, "facts": ["f"], "at": T0}).to_dict() == plain.decide({**q, "facts": ["f"]}).to_dict()
    assert plain.decide({**q, "facts": {"f": T0}, "at": "2026-03-02T00:00:00Z"}).decision == "allow"
    assert "until" not in plain.decide({**q, "facts": {"f": T0}, "at": "2026-03-02T00:00:00Z"}).to_dict()


def test_explain_and_requirement_follow_the_times(policy):
    q = {"action": "retain", "data": "usage.ip_address", "purpose": "safety"}
    assert policy.requirement({**q, "collected_at": T0, "at": T0}) is True
    assert policy.requirement(q).name == "collected less than 90 days ago"


def test_past_the_enumeration_bound_a_rule_that_needs_an_unknown_time_fails_closed(policy, monkeypatch):
    from policy_engine.engine import timed

    monkeypatch.setattr(timed, "COMPLETIONS_LIMIT", 0)
    fresh = api.loads(POLICY, "timed.policy")  # no memoised answers
    assert ask(fresh, facts=["account_closed"], at=T0).decision == "deny"
    got = fresh.decide({"action": "use", "data": "email", "purpose": "marketing", "facts": ["newsletter_form"],
                        "at": T0})
    assert got.decision == "deny" and [r.rule for r in got.reasons] == ["deny use of email for marketing after 2 years"]
    known = fresh.decide({"action": "use", "data": "email", "purpose": "marketing", "facts": ["newsletter_form"],
                          "collected_at": T0, "at": T0})
    assert known.decision == "allow"
