"""The current tables (current.py) on both stores: after any sequence of events (late ones dated
earlier, ties in time, data without a source, a forget) they are what a rebuild from the events
gives; the sweep mixes them with the events for subjects whose latest event is after its instant;
a store from before migration 3 is filled when it is opened."""

from __future__ import annotations

from pathlib import Path

from policy_engine import load
from policy_engine.subjects import backends, current
from policy_engine.subjects.model import check_event, parse_time
from policy_engine.subjects.sweep import sweep
from policy_engine.subjects.store import SubjectStore

SHOP = load(Path(__file__).with_name("shop.policy"))
TABLES = ("current_facts", "current_data", "current_subjects")


def current_rows(store):
    with store.backend.transaction(write=False) as tx:
        return {t: sorted(tx.execute(f"SELECT * FROM {t}")) for t in TABLES}


def rebuilt_rows(store):
    with store.backend.transaction() as tx:
        current.rebuild(tx, store.dialect)
    return current_rows(store)


def rec(store, subject, **raw):
    return store.record(check_event(subject, raw))


def test_the_current_tables_are_what_the_events_say(store):
    rec(store, "a", kind="begin", fact="newsletter_form", at="2026-02-01T00:00:00Z")
    rec(store, "a", kind="end", fact="newsletter_form", at="2026-01-01T00:00:00Z")  # late, dated earlier: no effect
    rec(store, "a", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    rec(store, "a", kind="end", fact="active_account", at="2026-01-01T00:00:00Z")  # a tie: the later record wins
    rec(store, "a", kind="collected", category="email", source="contact", at="2026-03-01T00:00:00Z")
    rec(store, "a", kind="collected", category="email", source="contact", at="2026-01-15T00:00:00Z")
    rec(store, "a", kind="collected", category="ip_address", at="2026-01-15T00:00:00Z")
    rec(store, "b", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    rec(store, "gone", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    store.forget("gone", "erasure-1")
    seen = current_rows(store)
    assert seen == rebuilt_rows(store)
    held, known = store.facts_at("a")
    assert known and [h.fact for h in held] == ["newsletter_form"]
    assert store.held("a")[0]["first_collected"] == "2026-01-15T00:00:00Z"
    assert store.held("a")[0]["last_collected"] == "2026-03-01T00:00:00Z" and store.held("a")[0]["events"] == 2
    assert store.held("a")[1]["source"] is None
    assert [r[0] for r in seen["current_subjects"]] == ["a", "b"]


def test_before_a_subjects_latest_event_the_events_decide(store):
    rec(store, "a", kind="begin", fact="active_account", at="2026-01-01T00:00:00Z")
    rec(store, "a", kind="collected", category="ip_address", source="website", at="2026-01-01T00:00:00Z")
    rec(store, "a", kind="end", fact="active_account", at="2026-05-01T00:00:00Z")
    rec(store, "b", kind="collected", category="ip_address", source="website", at="2026-01-01T00:00:00Z")
    april, june = parse_time("2026-04-01T00:00:00Z", "at"), parse_time("2026-06-01T00:00:00Z", "at")
    assert [h.fact for h in store.facts_at("a", april)[0]] == ["active_account"]
    assert store.facts_at("a", june)[0] == []
    # in April, a's account is still open (read from its events): only b's IP address is due
    assert [(i["subject"], i["data"]) for i in sweep(SHOP, store, april)["items"]] == [("b", "ip_address")]
    later = sweep(SHOP, store, june)
    assert later["due"] == 2 and [i["subject"] for i in later["items"]] == ["a", "b"]
    assert sweep(SHOP, store, parse_time("2025-12-01T00:00:00Z", "at"))["due"] == 0  # nothing collected yet


def test_the_sweep_lists_at_most_limit_rows_in_subject_order(store):
    for n in range(5):
        rec(store, f"s{n}", kind="collected", category="ip_address", source="website", at="2026-01-01T00:00:00Z")
    rec(store, "s1", kind="begin", fact="newsletter_form", at="2026-09-01T00:00:00Z")  # s1 via its events
    out = sweep(SHOP, store, parse_time("2026-06-01T00:00:00Z", "at"), limit=3)
    assert out["due"] == 5 and out["truncated"] is True
    assert [i["subject"] for i in out["items"]] == ["s0", "s1", "s2"]


def test_a_store_from_before_the_current_tables_is_filled_on_open(store_url, monkeypatch):
    shipped = backends.migrations()
    monkeypatch.setattr(backends, "migrations", lambda: [m for m in shipped if m[0] < 3])
    old = SubjectStore.open(store_url)
    assert old.version == 2
    with old.backend.transaction() as tx:  # events written by the version-2 code
        for subject, kind, fact, category, at in (("x", "begin", "active_account", None, "2026-01-01"),
                                                  ("x", "collected", None, "email", "2026-01-02"),
                                                  ("x", "end", "active_account", None, "2026-01-03"),
                                                  ("y", "begin", "newsletter_form", None, "2026-01-01")):
            tx.execute("INSERT INTO events (subject, kind, fact, category, source, at, fingerprint, recorded_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, '', ?)", (subject, kind, fact, category,
                                                          "contact" if category else None,
                                                          f"{at}T00:00:00.000000Z", f"{at}T00:00:00.000000Z"))
    old.close()
    monkeypatch.setattr(backends, "migrations", lambda: shipped)
    store = SubjectStore.open(store_url)
    assert store.version == shipped[-1][0]
    filled = current_rows(store)
    assert [(r[0], r[1], r[2]) for r in filled["current_facts"]] == [("x", "active_account", "end"),
                                                                     ("y", "newsletter_form", "begin")]
    assert filled == rebuilt_rows(store)
    assert [h.fact for h in store.facts_at("y")[0]] == ["newsletter_form"]
    store.close()
