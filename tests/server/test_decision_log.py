"""The decision log writer on its own (no server): batching, WAL, flush on close, the JSON lines
form, and the `policy-engine log` reader over what it wrote."""

from __future__ import annotations

import io
import json
import sqlite3
import time

from pydantic import BaseModel

from policy_engine.server.decision_log import JsonLinesDecisionLog, NullDecisionLog, SqliteDecisionLog, open_decision_log
from policy_engine.server.encode import Encoded, Encoder
from policy_engine.server.log_query import LogFilter, count_log, parse_time, query_log, render_row


class _Policy(BaseModel):
    name: str
    digest: str


class _Decision(BaseModel):  # the documented answer's shape, enough for the writer
    decision: str
    requires: str | None = None
    reasons: list[dict] = []
    policy: _Policy


_ENCODE = Encoder()


def _decision(kind: str = "allow", digest: str = "sha256:" + "ab" * 32, requires: str | None = None) -> Encoded:
    return _ENCODE(_Decision(decision=kind, requires=requires, policy=_Policy(name="P", digest=digest),
                             reasons=[{"effect": "allow", "rule": "allow use of email", "line": 7, "section": "S"}]))


def test_rows_are_written_in_wal_mode_and_flushed_on_close(tmp_path):
    db = tmp_path / "log" / "decisions.sqlite3"
    flushed: list[int] = []
    sink = SqliteDecisionLog(db, batch_size=50, flush_interval=0.01, on_flush=flushed.append).start()
    for i in range(1234):
        sink.record({"action": "use", "data": "email", "purpose": f"p{i % 3}", "facts": ["a"] if i % 2 else None},
                    _decision("deny" if i % 5 == 0 else "allow"), 0.000004)
    sink.close()
    assert sink.flushed == 1234 and sink.dropped == 0 and sum(flushed) == 1234
    assert max(flushed) <= 50
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT sum(coalesce(n, 1)) FROM decisions").fetchone()[0] == 1234
    assert conn.execute("SELECT count(*) FROM decision_log").fetchone()[0] == 1234
    assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 2  # each distinct answer once
    row = conn.execute("SELECT query, decision, rules, digest, latency_us, facts FROM decision_log WHERE id = 2").fetchone()
    assert row[0] == '{"action":"use","data":"email","purpose":"p1","facts":["a"]}'  # the documented order
    assert row[1] == "allow" and json.loads(row[2])[0]["line"] == 7 and row[3].startswith("sha256:")
    assert row[4] == 4.0 and row[5] == '["a"]'
    when = conn.execute("SELECT ts, time FROM decision_log WHERE id = 1").fetchone()
    assert when[1].endswith("Z") and abs(parse_time(when[1]) - when[0]) < 0.002


def test_a_new_file_has_small_pages_and_an_older_one_keeps_its_own(tmp_path):
    """New files get 4 KiB pages (a batch row is some 450 bytes, and a commit writes its pages
    whole); a file made before with 64 KiB pages cannot change them in WAL mode, and goes on being
    written and read as it is."""
    def written(db, start: int) -> None:
        sink = SqliteDecisionLog(db, flush_interval=0.01).start()
        for i in range(start, start + 300):
            sink.record({"action": "use", "data": "email", "purpose": f"p{i % 7}"}, _decision(), 0.000002)
        sink.close()
        assert sink.flushed == 300 and sink.dropped == 0

    new = tmp_path / "new.sqlite3"
    written(new, 0)
    assert sqlite3.connect(new).execute("PRAGMA page_size").fetchone()[0] == 4096

    old = tmp_path / "old.sqlite3"
    made = sqlite3.connect(old)
    made.execute("PRAGMA page_size = 65536")
    made.execute("PRAGMA journal_mode = WAL")
    made.execute("CREATE TABLE made_before (x)")  # the page size is fixed once the file has a page
    made.close()
    old.chmod(0o600)
    written(old, 0)
    written(old, 300)
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 65536
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count_log(old, LogFilter()) == 600
    assert [r["query"]["purpose"] for r in query_log(old, LogFilter(limit=3))] == ["p2", "p3", "p4"]  # 597..599


def test_records_after_close_are_counted_as_dropped(tmp_path):
    sink = SqliteDecisionLog(tmp_path / "d.sqlite3").start()
    sink.close()
    sink.record({"action": "use", "data": "email"}, _decision(), 0.0)
    assert sink.dropped == 1


def test_an_unwritable_target_drops_rows_but_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    sink = SqliteDecisionLog(blocker / "d.sqlite3").start()  # parent is a file: cannot be created
    time.sleep(0.2)
    assert not sink.healthy()
    sink.record({"action": "use", "data": "email"}, _decision(), 0.0)
    sink.close()
    assert sink.flushed == 0 and sink.dropped == 1


def test_json_lines_form():
    out = io.StringIO()
    sink = JsonLinesDecisionLog(out, flush_interval=0.01).start()
    sink.record({"action": "use", "data": "email", "purpose": "marketing"}, _decision("conditional", requires="a or b"),
                0.00001)
    sink.close()
    (line,) = out.getvalue().splitlines()
    rec = json.loads(line)
    assert rec["decision"] == "conditional" and rec["requires"] == "a or b"
    assert rec["query"] == {"action": "use", "data": "email", "purpose": "marketing"} and rec["facts"] is None
    assert rec["digest"].startswith("sha256:") and rec["latency_us"] == 10.0
    assert rec["time"].endswith("Z") and rec["rules"][0]["rule"] == "allow use of email"


def test_open_decision_log_targets(tmp_path):
    assert isinstance(open_decision_log(None), NullDecisionLog)
    sink = open_decision_log(str(tmp_path / "x.sqlite3"))
    assert isinstance(sink, SqliteDecisionLog)
    sink.close()


def test_log_reader_filters(tmp_path):
    db = tmp_path / "d.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.01).start()
    sink.record({"action": "use", "data": "cookie.analytics", "purpose": "analytics"}, _decision("allow", "sha256:aaaa"), 0)
    sink.record({"action": "use", "data": "cookie", "purpose": "marketing.newsletter"}, _decision("deny", "sha256:bbbb"), 0)
    sink.record({"action": "share", "data": "email", "recipient": "public"}, _decision("deny", "sha256:bbbb"), 0)
    sink.record({"action": "use", "data": "cookies", "purpose": "marketing"}, _decision("allow", "sha256:bbbb"), 0)
    sink.close()
    def ids(**kw):
        return [r["id"] for r in query_log(db, LogFilter(**kw))]
    assert ids() == [1, 2, 3, 4]
    assert ids(data="cookie") == [1, 2]  # descendants match, a longer id with the same prefix does not
    assert ids(purpose="marketing") == [2, 4]
    assert ids(decision="deny") == [2, 3]
    assert ids(digest="bbbb") == [2, 3, 4] and ids(digest="sha256:aa") == [1]
    assert ids(limit=2) == [3, 4]
    assert ids(since=parse_time("1h")) == [1, 2, 3, 4] and ids(until=parse_time("1h")) == []
    assert count_log(db, LogFilter(action="use")) == 3
    (row,) = query_log(db, LogFilter(recipient="public"))
    assert "share" in render_row(row) and row["query"]["recipient"] == "public"


def test_a_listed_row_says_the_question_as_asked_with_its_destination_and_times(tmp_path):
    db = tmp_path / "d.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.01).start()
    sink.record({"action": "share", "data": "usage", "purpose": "business_operations", "recipient": "affiliate",
                 "destination": "region.us", "facts": {"resident.uk": "2026-01-01T00:00:00Z"},
                 "at": "2026-06-01T00:00:00Z"}, _decision("allow", "sha256:aaaa"), 0)
    sink.close()
    (row,) = query_log(db, LogFilter())
    line = render_row(row)
    assert "share of usage for business_operations with affiliate in region.us" in line, line
    assert "resident.uk (since 2026-01-01T00:00:00Z)" in line and "at 2026-06-01T00:00:00Z" in line, line


def test_parse_time_forms():
    assert parse_time("2026-01-01") == parse_time("2026-01-01T00:00:00Z") == parse_time("2026-01-01T01:00:00+01:00")
    for bad in ("yesterday", "5 parsecs", "", "99999999999999d"):
        try:
            parse_time(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_the_log_file_is_private(tmp_path):
    import os
    import stat

    db = tmp_path / "private" / "decisions.sqlite3"
    old = os.umask(0o022)  # the usual umask would make it 0644
    try:
        sink = SqliteDecisionLog(db, flush_interval=0.01).start()
        sink.record({"action": "use", "data": "email", "purpose": "p"}, _decision(), 0.00001)
        sink.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra.name


def test_audit_mode_answers_only_after_the_commit(tmp_path):
    import asyncio

    db = tmp_path / "audit.sqlite3"
    sink = SqliteDecisionLog(db, mode="audit", flush_interval=0.01).start()
    assert open_decision_log(None).record_many([]) is None

    async def one(i: int) -> int:
        rows = [({"action": "use", "data": "email", "purpose": f"p{i}"}, _decision(), 0.00001, f"id-{i}-{n}")
                for n in range(3)]
        waiter = sink.record_many(rows)
        assert waiter is not None
        await waiter
        conn = sqlite3.connect(db)  # another connection sees the rows: they are committed
        try:
            return conn.execute("SELECT count(*) FROM decision_log WHERE purpose = ?", (f"p{i}",)).fetchone()[0]
        finally:
            conn.close()

    async def many() -> list[int]:
        return await asyncio.gather(*(one(i) for i in range(50)))

    assert asyncio.run(many()) == [3] * 50
    sink.close()
    assert sink.flushed == 150 and sink.dropped == 0


def test_buffered_mode_never_waits(tmp_path):
    sink = SqliteDecisionLog(tmp_path / "buffered.sqlite3", flush_interval=0.01).start()
    assert sink.record_many([({"action": "use", "data": "email"}, _decision(), 0.0, "id-1")]) is None
    sink.close()
    assert sink.flushed == 1


def test_audit_mode_refuses_when_the_log_cannot_take_rows(tmp_path):
    import asyncio

    import pytest

    from policy_engine.server.errors import ApiError

    sink = SqliteDecisionLog(tmp_path / "closed.sqlite3", mode="audit").start()
    sink.close()

    async def after_close() -> None:
        sink.record_many([({"action": "use", "data": "email"}, _decision(), 0.0, "id-1")])

    with pytest.raises(ApiError) as info:
        asyncio.run(after_close())
    assert info.value.status == 503 and info.value.code == "log.unavailable"
    assert info.value.headers == {"Retry-After": "1"}
