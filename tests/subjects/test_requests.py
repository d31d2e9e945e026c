"""Requests follow the policy's rights (docs/semantics.md), on both stores: the response deadline and its
extension, the frequency limit (refused with the limit and the next possible time, a retry still
replayed), a right stated for other subjects only (refused, nothing recorded), and the exceptions
an erasure plan keeps by."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine import load
from policy_engine.subjects.entitlement import RequestLimited, RightNotGranted, days
from policy_engine.subjects.model import check_event
from policy_engine.subjects.requests import handle_request

RIGHTS = load(Path(__file__).with_name("rights.policy"))
SHOP = load(Path(__file__).with_name("shop.policy"))


def rec(store, subject, **raw):
    return store.record(check_event(subject, raw))


def test_durations_of_the_language():
    assert [days(d) for d in ("P45D", "P2W", "P12M", "P1Y")] == [45, 14, 360, 365]
    with pytest.raises(ValueError):
        days("PT1H")


def test_the_response_deadline_and_its_extension_come_from_the_right(store):
    out = handle_request(RIGHTS, store, "1", {"kind": "access", "received_at": "2026-01-01T00:00:00Z"})
    assert out["response"] == {"right": "access", "deadline": "P1M", "respond_by": "2026-01-31T00:00:00Z",
                               "extension": "P2M", "extended_respond_by": "2026-04-01T00:00:00Z",
                               "limit": "2 per P12M"}
    assert [r["right"] for r in out["rights"]] == ["access"] and out["rights"][0]["channels"] == ["the account page"]


def test_the_frequency_limit_refuses_with_the_next_possible_time(store):
    first = handle_request(RIGHTS, store, "2", {"kind": "access", "received_at": "2026-01-10T00:00:00Z"})
    handle_request(RIGHTS, store, "2", {"kind": "access", "received_at": "2026-03-01T00:00:00Z"}, key="second")
    with pytest.raises(RequestLimited) as err:
        handle_request(RIGHTS, store, "2", {"kind": "access", "received_at": "2026-06-01T00:00:00Z"})
    assert err.value.status == 429 and err.value.field == "kind"
    assert err.value.next_possible == "2027-01-05T00:00:00Z"  # the first request + 360 days
    assert "at most 2 access requests per P12M (360 days)" in err.value.message
    assert err.value.to_dict()["error"]["next_possible"] == "2027-01-05T00:00:00Z"
    again = handle_request(RIGHTS, store, "2", {"kind": "access", "received_at": "2026-03-01T00:00:00Z"},
                           key="second")  # a retry of an accepted request is answered, not refused
    assert again["replayed"] is True
    later = handle_request(RIGHTS, store, "2", {"kind": "access", "received_at": "2027-01-05T00:00:00Z"})
    assert later["replayed"] is False and later["request"]["id"] > first["request"]["id"]
    assert len(store.requests("2")) == 3


def test_a_right_stated_for_others_only_is_refused_and_not_recorded(store):
    rec(store, "3", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    with pytest.raises(RightNotGranted) as err:
        handle_request(RIGHTS, store, "3", {"kind": "erasure", "received_at": "2026-02-01T00:00:00Z"})
    assert err.value.status == 422 and err.value.field == "kind"
    assert "`delete` only if resident_us" in err.value.message and "(active_account)" in err.value.message
    assert store.requests("3") == []


def test_the_erasure_plan_keeps_only_what_the_rights_exceptions_allow(store):
    for fact in ("active_account", "resident_us", "fraud_suspected"):
        rec(store, "4", kind="begin", fact=fact, at="2026-01-01T00:00:00Z")
    rec(store, "4", kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z")
    rec(store, "4", kind="collected", category="ip_address", source="website", at="2026-01-01T00:00:00Z")
    out = handle_request(RIGHTS, store, "4", {"kind": "erasure", "received_at": "2026-02-01T00:00:00Z"})
    assert out["response"]["respond_by"] == "2026-03-18T00:00:00Z" and "limit" not in out["response"]
    plan = out["plan"]
    assert [e["line"] for e in plan["exceptions"]] == [26] and plan["exceptions"][0]["rights"] == ["delete"]
    email, ip = plan["plan"]
    assert email["action"] == "delete_now"
    assert [y["purpose"] for y in email["yields_to_request"]] == ["accounting", "account_administration"]
    assert ip["action"] == "keep" and [k["purpose"] for k in ip["keep_for"]] == ["security"]
    assert ip["keep_for"][0]["kept_by"] == "an exception of the right `delete`"
    assert ip["keep_for"][0]["while"] == "fraud_suspected" and ip["keep_for"][0]["lasts"] == "while fraud_suspected holds"
    assert [y["purpose"] for y in ip["yields_to_request"]] == ["account_administration"]


def test_without_exceptions_a_legal_obligation_survives_the_erasure(store):
    rec(store, "5", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    rec(store, "5", kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z")
    rec(store, "5", kind="collected", category="ip_address", source="website", at="2026-01-01T00:00:00Z")
    out = handle_request(SHOP, store, "5", {"kind": "erasure", "received_at": "2026-02-01T00:00:00Z"})
    assert out["response"] == {"note": "the policy states no response deadline for the rights granting this request"}
    email, ip = out["plan"]["plan"]
    assert email["action"] == "keep" and [k["purpose"] for k in email["keep_for"]] == ["accounting"]
    assert email["keep_for"][0]["lasts"] == "no end stated by the policy"
    assert email["keep_for"][0]["kept_by"] == "a legal obligation (the erasure does not reach it)"
    assert ip["action"] == "delete_now" and [y["purpose"] for y in ip["yields_to_request"]] == [
        "account_administration"]
