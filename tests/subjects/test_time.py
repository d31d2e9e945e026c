"""Time limits (docs/semantics.md) through the store, on both stores: subject decisions pass the facts'
start times and the data's collection time; the erasure plan keeps until the rules' deadline;
the sweep lists what is due with each row's deadline and what becomes due within N days, for
subjects read from the current tables and from their events alike."""

from __future__ import annotations

from pathlib import Path

from policy_engine import load
from policy_engine.subjects.decide import decide_for_subject
from policy_engine.subjects.model import check_event, parse_time
from policy_engine.subjects.requests import handle_request
from policy_engine.subjects.sweep import anchors, sweep

TIMED = load(Path(__file__).with_name("timed.policy"))
IP = {"action": "retain", "data": "ip_address", "source": "website", "purpose": "safety"}


def rec(store, subject, **raw):
    return store.record(check_event(subject, raw))


def collected(store, subject, category, at):
    rec(store, subject, kind="collected", category=category, source="website" if category == "ip_address" else
        "direct", at=at)


def test_the_anchors_and_durations_of_the_policy():
    assert anchors(TIMED) == {"account_closed": [30], "collected": [90]}


def test_a_subject_decision_is_decided_at_its_instant_from_the_stored_times(store):
    collected(store, "t1", "ip_address", "2026-03-01T00:00:00Z")
    answer, logged = decide_for_subject(TIMED, store, {**IP, "subject": "t1", "at": "2026-03-11T00:00:00Z"})
    assert answer["decision"] == "allow" and answer["until"] == "2026-05-30T00:00:00Z"
    assert answer["subject"]["collected_at"] == "2026-03-01T00:00:00Z"
    assert logged["collected_at"] == "2026-03-01T00:00:00Z" and logged["at"] == "2026-03-11T00:00:00Z"
    later, _ = decide_for_subject(TIMED, store, {**IP, "subject": "t1", "at": "2026-06-01T00:00:00Z"})
    assert later["decision"] == "deny"
    own, _ = decide_for_subject(TIMED, store, {**IP, "subject": "t1", "at": "2026-03-11T00:00:00Z",
                                               "collected_at": "2026-03-10T00:00:00Z"})
    assert own["until"] == "2026-06-08T00:00:00Z"  # the caller's collected_at names the copy it asks about


def test_the_erasure_plan_keeps_until_the_rules_deadline(store):
    collected(store, "t2", "account", "2026-01-01T00:00:00Z")
    rec(store, "t2", kind="begin", fact="account_closed", at="2026-03-01T00:00:00Z")
    out = handle_request(TIMED, store, "t2", {"kind": "erasure", "received_at": "2026-03-10T00:00:00Z"})
    (row,) = out["plan"]["plan"]
    assert row["action"] == "keep" and row["keep_until"] == "2026-03-31T00:00:00Z"
    (kept,) = row["keep_for"]
    assert kept["purpose"] == "legal_obligations" and kept["lasts"] == "until 2026-03-31T00:00:00Z"


def test_the_sweep_lists_deadlines_and_what_becomes_due(store):
    collected(store, "s1", "ip_address", "2026-01-01T00:00:00Z")  # due since 2026-04-01
    collected(store, "s2", "ip_address", "2026-03-01T00:00:00Z")  # due on 2026-05-30
    collected(store, "s3", "account", "2026-01-01T00:00:00Z")
    rec(store, "s3", kind="begin", fact="account_closed", at="2026-04-01T00:00:00Z")  # due on 2026-05-01
    collected(store, "s4", "account", "2026-01-01T00:00:00Z")
    rec(store, "s4", kind="begin", fact="account_closed", at="2026-03-01T00:00:00Z")  # due since 2026-03-31
    collected(store, "s5", "account", "2026-01-01T00:00:00Z")
    rec(store, "s5", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")  # kept, no end
    collected(store, "s6", "ip_address", "2026-01-01T00:00:00Z")
    rec(store, "s6", kind="begin", fact="active_account", at="2026-09-01T00:00:00Z")  # read from its events
    out = sweep(TIMED, store, parse_time("2026-04-15T00:00:00Z", "at"), within_days=60)
    assert out["due"] == 3
    assert [(i["subject"], i["data"], i["deadline"]) for i in out["items"]] == [
        ("s1", "ip_address", "2026-04-01T00:00:00Z"), ("s4", "account", "2026-03-31T00:00:00Z"),
        ("s6", "ip_address", "2026-04-01T00:00:00Z")]
    soon = out["upcoming"]
    assert soon["count"] == 2 and soon["until"] == "2026-06-14T00:00:00Z"
    assert [(i["subject"], i["deadline"]) for i in soon["items"]] == [("s2", "2026-05-30T00:00:00Z"),
                                                                      ("s3", "2026-05-01T00:00:00Z")]
    kept_for_ever = [g for g in out["groups"]["kept"] if g["facts"] == ["active_account"]]
    assert kept_for_ever and "ends" not in kept_for_ever[0]
    assert sweep(TIMED, store, parse_time("2026-04-15T00:00:00Z", "at"), within_days=10)["upcoming"]["count"] == 0
