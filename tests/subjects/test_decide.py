"""Questions naming a subject, erasure plans and the sweep, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine import load
from policy_engine.engine.query import QueryError
from policy_engine.subjects.decide import check_terms, decide_for_subject
from policy_engine.subjects.model import check_event, parse_time
from policy_engine.subjects.requests import handle_request
from policy_engine.subjects.retention import erasure_plan
from policy_engine.subjects.sweep import sweep

SHOP = load(Path(__file__).with_name("shop.policy"))
MARKETING = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}


def rec(store, subject, **raw):
    return store.record(check_event(subject, raw))


def test_a_subject_question_reads_the_facts_from_the_store(store):
    given = rec(store, "4711", kind="begin", fact="newsletter_form", at="2026-01-01T00:00:00Z")
    rec(store, "4711", kind="end", fact="newsletter_form", at="2026-03-01T00:00:00Z")
    answer, logged = decide_for_subject(SHOP, store, {**MARKETING, "subject": "4711", "at": "2026-02-01T00:00:00Z"})
    assert answer["decision"] == "allow"
    assert answer["evidence"] == [{"fact": "newsletter_form", "event": given["id"], "since": "2026-01-01T00:00:00Z"}]
    assert answer["subject"] == {"id": "4711", "at": "2026-02-01T00:00:00Z", "known": True}
    assert logged["evidence"] == answer["evidence"] and logged["facts"] == {"newsletter_form": "2026-01-01T00:00:00Z"}
    # the same question as facts gives the same decision and reasons
    assert SHOP.decide({**MARKETING, "facts": ["newsletter_form"]}).to_dict()["reasons"] == answer["reasons"]
    later, _ = decide_for_subject(SHOP, store, {**MARKETING, "subject": "4711", "at": "2026-04-01T00:00:00Z"})
    assert later["decision"] == "deny" and later["evidence"] == []


def test_an_unknown_subject_is_answered_closed_world_and_says_so(store):
    answer, _ = decide_for_subject(SHOP, store, {**MARKETING, "subject": "nobody"})
    assert answer["decision"] == "deny" and answer["subject"]["known"] is False
    assert "closed world" in answer["subject"]["note"]


def test_subject_and_facts_together_is_a_clear_error(store):
    with pytest.raises(QueryError) as err:
        decide_for_subject(SHOP, store, {**MARKETING, "subject": "1", "facts": []})
    assert err.value.code == "query.subject_and_facts" and err.value.field == "facts"


def test_a_bad_question_fails_before_the_store_is_read(store):
    with pytest.raises(QueryError) as err:
        decide_for_subject(SHOP, store, {**MARKETING, "purpose": "marketting", "subject": "1"})
    assert err.value.code == "query.unknown_term" and err.value.suggestions == ["marketing"]
    with pytest.raises(QueryError) as err:
        decide_for_subject(SHOP, store, {**MARKETING, "subject": "1", "at": "noon"})
    assert err.value.field == "at"


def test_events_name_terms_of_the_policy():
    with pytest.raises(QueryError) as err:
        check_terms(SHOP, check_event("1", {"kind": "begin", "fact": "newsletter"}))
    assert err.value.field == "fact" and "newsletter_form" in err.value.suggestions


def test_the_erasure_plan_keeps_what_a_rule_still_allows(store):
    rec(store, "5", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    rec(store, "5", kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z")
    rec(store, "5", kind="collected", category="ip_address", source="website", at="2026-01-02T00:00:00Z")
    rec(store, "5", kind="end", fact="active_account", at="2026-02-01T00:00:00Z")
    plan = erasure_plan(SHOP, store, "5", parse_time("2026-03-01T00:00:00Z", "at"))["plan"]
    assert [(p["data"], p["source"], p["action"]) for p in plan] == [("email", "contact", "keep"),
                                                                     ("ip_address", "website", "delete_now")]
    assert [k["purpose"] for k in plan[0]["keep_for"]] == ["accounting"]
    assert plan[0]["keep_for"][0]["reasons"][0]["basis"] == "legal_obligation"
    assert "keep_until" not in plan[0]  # retain answers carry no `until` yet


def test_an_erasure_request_is_recorded_and_answered_with_the_plan(store):
    rec(store, "6", kind="collected", category="ip_address", source="website", at="2026-01-02T00:00:00Z")
    out = handle_request(SHOP, store, "6", {"kind": "erasure", "channel": "e-mail"}, key="r1")
    assert [(r["right"], r["decision"], r["channels"]) for r in out["rights"]] == [
        ("erasure", "allow", ["privacy@shop.example"])]
    assert out["plan"]["plan"][0]["action"] == "delete_now" and out["replayed"] is False
    again = handle_request(SHOP, store, "6", {"kind": "erasure", "channel": "e-mail"}, key="r1")  # stamped anew
    assert again["replayed"] is True and again["request"]["id"] == out["request"]["id"]
    access = handle_request(SHOP, store, "6", {"kind": "access"})
    assert access["data"]["data"][0]["category"] == "ip_address" and len(access["data"]["requests"]) == 2
    objection = handle_request(SHOP, store, "6", {"kind": "objection"})
    assert "declares no right" in objection["note"]


def test_the_sweep_lists_what_may_no_longer_be_kept(store):
    for n in range(6):
        s = f"u{n}"
        rec(store, s, kind="collected", category="ip_address", source="website", at="2026-01-01T00:00:00Z")
        rec(store, s, kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z")
        rec(store, s, kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
        if n % 2:
            rec(store, s, kind="end", fact="active_account", at="2026-02-01T00:00:00Z")
    out = sweep(SHOP, store, parse_time("2026-03-01T00:00:00Z", "at"))
    assert out["due"] == 3 and not out["truncated"]
    assert [(i["subject"], i["data"], i["action"]) for i in out["items"]] == [
        ("u1", "ip_address", "delete_now"), ("u3", "ip_address", "delete_now"), ("u5", "ip_address", "delete_now")]
    assert {(g["data"], tuple(g["facts"]), g["subjects"]) for g in out["groups"]["kept"]} == {
        ("email", ("active_account",), 3), ("email", (), 3), ("ip_address", ("active_account",), 3)}
    before = sweep(SHOP, store, parse_time("2026-01-15T00:00:00Z", "at"))
    assert before["due"] == 0
    assert sweep(SHOP, store, parse_time("2026-03-01T00:00:00Z", "at"), limit=2)["truncated"] is True
