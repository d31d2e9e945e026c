"""The subject store on both databases: append-only events, facts as of an instant, idempotency
by a unique key, forget with a tombstone, migrations, the 0600 file."""

from __future__ import annotations

import os
import stat

import pytest

from policy_engine.subjects.backends import open_backend
from policy_engine.subjects.model import Forgotten, IdempotencyConflict, SubjectError, check_event, parse_time
from policy_engine.subjects.store import SubjectStore


def ev(subject, **raw):
    return check_event(subject, raw)


def test_facts_holding_follow_the_latest_begin_or_end(store):
    store.record(ev("4711", kind="begin", fact="newsletter_form", at="2026-01-01T00:00:00Z", channel="web form",
                    evidence="double opt-in mail confirmed"))
    store.record(ev("4711", kind="begin", fact="active_account", at="2026-01-02T00:00:00Z"))
    ended = store.record(ev("4711", kind="end", fact="newsletter_form", at="2026-02-01T00:00:00Z"))
    held, known = store.facts_at("4711", parse_time("2026-01-15T00:00:00Z", "at"))
    assert known and [h.fact for h in held] == ["active_account", "newsletter_form"]
    held, _ = store.facts_at("4711", parse_time("2026-03-01T00:00:00Z", "at"))
    assert [h.fact for h in held] == ["active_account"]
    assert ended["kind"] == "end" and ended["replayed"] is False
    history = store.history("4711")
    assert [e["kind"] for e in history] == ["begin", "begin", "end"]
    assert history[0]["evidence"] == "double opt-in mail confirmed" and history[0]["channel"] == "web form"


def test_an_unknown_subject_holds_nothing(store):
    assert store.facts_at("nobody") == ([], False)
    assert store.history("nobody") == [] and store.held("nobody") == []


def test_before_its_first_event_a_subject_is_unknown(store):
    store.record(ev("7", kind="begin", fact="active_account", at="2026-05-01T00:00:00Z"))
    assert store.facts_at("7", parse_time("2026-04-01T00:00:00Z", "at")) == ([], False)


def test_a_retry_with_the_same_key_records_once(store):
    first = store.record(ev("1", kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z"),
                         key="req-1")
    again = store.record(ev("1", kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z"),
                         key="req-1")
    assert again["id"] == first["id"] and again["replayed"] is True
    assert store.count_events() == 1


def test_a_retry_of_an_event_stamped_on_receipt_is_the_same_event(store):
    first = store.record(ev("1", kind="begin", fact="newsletter_form"), key="no-at")
    again = store.record(ev("1", kind="begin", fact="newsletter_form"), key="no-at")  # a later `at` by default
    assert again["replayed"] is True and again["at"] == first["at"] and store.count_events() == 1


def test_a_key_reused_for_another_event_is_a_conflict(store):
    store.record(ev("1", kind="begin", fact="newsletter_form", at="2026-01-01T00:00:00Z"), key="k")
    with pytest.raises(IdempotencyConflict) as err:
        store.record(ev("1", kind="end", fact="newsletter_form", at="2026-01-02T00:00:00Z"), key="k")
    assert err.value.field == "Idempotency-Key" and store.count_events() == 1


def test_the_key_is_a_unique_constraint_in_the_schema(store):
    with store.backend.transaction() as tx:
        tx.execute("INSERT INTO events (subject, kind, fact, at, idempotency_key, fingerprint, recorded_at) "
                   "VALUES ('s', 'begin', 'f', 'x', 'dup', 'a', 'x')")
    with pytest.raises(Exception):
        with store.backend.transaction() as tx:
            tx.execute("INSERT INTO events (subject, kind, fact, at, idempotency_key, fingerprint, recorded_at) "
                       "VALUES ('s', 'begin', 'f', 'x', 'dup', 'b', 'x')")


def test_forget_erases_and_a_replayed_old_event_cannot_bring_the_subject_back(store):
    old = dict(kind="begin", fact="newsletter_form", at="2026-01-01T00:00:00Z")
    store.record(ev("42", **old), key="old-1")
    store.record(ev("42", kind="collected", category="email", source="contact", at="2026-01-01T00:00:00Z"))
    store.record_request("42", "access", "2026-01-05T00:00:00.000000Z", None, None, None, "fp")
    done = store.forget("42", "erasure-77", parse_time("2026-06-01T00:00:00Z", "at"))
    assert done["erased"] == 3 and done["request_id"] == "erasure-77"
    assert store.history("42") == [] and store.requests("42") == []
    with pytest.raises(Forgotten) as err:
        store.record(ev("42", **old), key="old-1")
    assert "erasure-77" in err.value.message and err.value.status == 410
    assert store.facts_at("42") == ([], False)
    assert store.tombstone("42") == {"forgotten_at": "2026-06-01T00:00:00Z", "request_id": "erasure-77"}
    later = store.record(ev("42", kind="begin", fact="active_account", at="2026-07-01T00:00:00Z"))
    assert later["replayed"] is False  # a new relationship after the erasure is recorded


def test_held_data_per_category_and_source(store):
    for at in ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"):
        store.record(ev("9", kind="collected", category="email", source="contact", at=at))
    store.record(ev("9", kind="collected", category="ip_address", at="2026-01-01T00:00:00Z"))
    assert store.held("9") == [
        {"category": "email", "source": "contact", "first_collected": "2026-01-01T00:00:00Z",
         "last_collected": "2026-03-01T00:00:00Z", "events": 2},
        {"category": "ip_address", "source": None, "first_collected": "2026-01-01T00:00:00Z",
         "last_collected": "2026-01-01T00:00:00Z", "events": 1}]


def test_migrations_are_versioned_and_applied_once(store_url):
    first = SubjectStore.open(store_url)
    second = SubjectStore.open(store_url)  # a second process starting on a migrated database
    with second.backend.transaction() as tx:
        versions = tx.execute("SELECT version FROM schema_version ORDER BY version")
    assert first.version == second.version == versions[-1][0] and len(versions) == len({v for v, in versions})
    first.close()
    second.close()


def test_sqlite_file_is_private_wal_and_full_sync(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = SubjectStore.open(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with store.backend.transaction() as tx:
        assert tx.execute("PRAGMA journal_mode")[0][0] == "wal"
        assert tx.execute("PRAGMA synchronous")[0][0] == 2  # FULL
    store.close()


@pytest.mark.parametrize("raw, field", [
    ({"kind": "begin"}, "fact"),
    ({"kind": "maybe", "fact": "x"}, "kind"),
    ({"kind": "begin", "fact": "x", "at": "2026-01-01T00:00:00"}, "at"),
    ({"kind": "begin", "fact": "x", "at": "yesterday"}, "at"),
    ({"kind": "collected", "source": "contact"}, "category"),
    ({"kind": "begin", "fact": "x", "colour": "red"}, "colour"),
    ({"kind": "begin", "fact": "x", "category": "email"}, "category"),
])
def test_bad_events_name_the_field(raw, field):
    with pytest.raises(SubjectError) as err:
        check_event("1", raw)
    assert err.value.field == field and err.value.message


def test_an_unreachable_postgres_is_store_unavailable():
    from policy_engine.subjects.model import StoreUnavailable
    from tests.subjects.pg import _free_port

    backend = open_backend(f"postgresql://postgres@127.0.0.1:{_free_port()}/none")
    with pytest.raises(StoreUnavailable):
        backend.migrate()
