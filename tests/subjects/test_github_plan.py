"""The erasure plan for policies/github.policy, on both stores: what is kept, until when and by
which rule, for a California resident (the `delete` right with its exceptions and deadline) and
for an EEA resident (the `erasure` right, which states no exceptions)."""

from __future__ import annotations

from paths import REPO

from policy_engine import load
from policy_engine.subjects.model import check_event
from policy_engine.subjects.requests import handle_request

GITHUB = load(REPO / "policies" / "github.policy")


def _subject(store, subject, *facts):
    for fact in ("active_account", *facts):
        store.record(check_event(subject, {"kind": "begin", "fact": fact, "at": "2026-01-10T09:00:00Z"}))
    for category, source in (("account", "direct"), ("payment", "direct"), ("usage.ip_address", "automatic")):
        store.record(check_event(subject, {"kind": "collected", "category": category, "source": source,
                                           "at": "2026-02-01T00:00:00Z"}))
    store.record(check_event(subject, {"kind": "end", "fact": "active_account", "at": "2026-05-01T00:00:00Z"}))


def test_a_californian_under_a_legal_hold_keeps_by_the_delete_rights_exception(store):
    _subject(store, "ca", "resident.us.california", "legal_obligation")
    out = handle_request(GITHUB, store, "ca", {"kind": "erasure", "received_at": "2026-05-02T10:00:00Z"})
    assert [r["right"] for r in out["rights"]] == ["erasure", "delete"]
    assert out["response"]["respond_by"] == "2026-06-16T10:00:00Z"
    assert out["response"]["extended_respond_by"] == "2026-07-31T10:00:00Z"
    assert {e["line"] for e in out["plan"]["exceptions"]} == {
        r["line"] for r in out["rights"][1]["exceptions"]}
    for row in out["plan"]["plan"]:
        assert row["action"] == "keep", row
        (kept,) = row["keep_for"]
        assert kept["purpose"] == "legal_obligations" and kept["lasts"] == "while legal_obligation holds"
        assert kept["kept_by"] == "an exception of the right `delete`"
        assert kept["reasons"][0]["basis"] == "legal_obligation"
        assert [y["purpose"] for y in row["yields_to_request"]] == ["business_operations"]
        assert row["retention_statement"] == [  # the policy's statement, then its time limit on keeping
            "as long as your account is active and as needed",
            "up to 90 days after deletion_requested (for service_provision, business_operations)"]


def test_an_eea_resident_without_a_legal_hold_has_everything_deleted(store):
    _subject(store, "eu", "resident.eea")
    out = handle_request(GITHUB, store, "eu", {"kind": "erasure", "received_at": "2026-05-02T10:00:00Z"})
    assert [r["right"] for r in out["rights"]] == ["erasure"]  # `delete` is for US residents
    assert "no response deadline" in out["response"]["note"]
    assert [row["action"] for row in out["plan"]["plan"]] == ["delete_now"] * 3
    assert out["plan"]["plan"][0]["yields_to_request"][0]["reasons"][0]["basis"] == "contract"
