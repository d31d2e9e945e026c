"""The decision log's batch rows (server/log_schema.py, versions 3 to 5): a batch request is one
`decisions` row, and every reader still sees one decision per row with its own id. A file written
by a version 2, 3 or 4 server is migrated when a server opens it, and a file holding rows of several
layouts reads, replays, ships and is searched by decision id as one sequence; a version 3 or 4 file
no server has opened since reads as it did. Real SQLite files, the real server, the installed console
script."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import policy_engine
from policy_engine.guard.replay import replay
from policy_engine.server import ids
from policy_engine.server.decision_log import SCHEMA_VERSION, open_db
from policy_engine.server.log_query import LogFilter, count_log, find_decision, query_log
from policy_engine.shipping.reader import LogReader

from .conftest import OPEN_E, SCRIPT, assert_clean_log, start
from .old_logs import VERSION_2, VERSION_3, VERSION_4, old_log

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
BATCH = [Q, {"action": "share", "data": "email", "recipient": "public"}, Q,
         {"action": "use", "data": "email", "source": "contact", "purpose": "marketing", "facts": ["newsletter_form"]},
         {"action": "use", "data": "emial"},  # not a term: an error object, not a decision
         {"action": "collect", "data": "email", "source": "contact"}]
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

def _version_2_log(path: Path) -> tuple[policy_engine.Policy, str]:
    """The file and the id of its one row (made now, as its time: find_decision looks near the id's)."""
    old_id = ids.DecisionIds().one()
    return old_log(path, VERSION_2, Q, old_id), old_id


def _log_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "log", "--db", str(db), *args], capture_output=True, text=True, timeout=60)


def test_a_version_2_log_is_migrated_and_reads_with_batch_rows_as_one_sequence(tmp_path, workdir):
    db = tmp_path / "v2.sqlite3"
    policy, OLD_ID = _version_2_log(db)  # noqa: N806
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db), "--decision-log-mode", "audit")
    try:
        with srv.client() as http:
            many = http.post("/v1/decide/batch", json={"queries": BATCH}, headers={"traceparent": TRACE}).json()
            single = http.post("/v1/decide", json=Q).json()
            again = http.post("/v1/decide/batch", json={"queries": BATCH[:2]}).json()
    finally:
        srv.stop()
    assert_clean_log(srv)
    answered = [(q, a) for q, a in zip(BATCH, many["answers"]) if "decision" in a]
    assert len(answered) == 5
    later = list(zip(BATCH[:2], again["answers"]))

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    stored = conn.execute("SELECT n FROM decisions ORDER BY id").fetchall()
    assert stored == [(None,), (5,), (None,), (2,)], "a batch request is one row; a single answer its own"
    texts = [r[0] for r in conn.execute("SELECT query FROM queries")]
    assert len(texts) == len(set(texts)) == 4, "each distinct query text is stored once"
    conn.close()

    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["id"] for r in rows] == list(range(1, 10)), "one id per decision, in the order they were asked"
    assert rows[0]["decision_id"] == OLD_ID and rows[0]["latency_us"] == 3.5
    expected = [(Q, None)] + [(q, a) for q, a in answered] + [(Q, single)] + later
    for row, (query, answer) in zip(rows, expected):
        assert row["query"] == query
        if answer is not None:
            assert row["decision_id"] == answer["decision_id"] and row["decision"] == answer["decision"]
            assert row["rules"] == answer["reasons"] and row["digest"] == answer["policy"]["digest"]
            assert row["latency_us"] >= 0
    assert [r["traceparent"] for r in rows] == [None] + [TRACE] * 5 + [None] * 3
    assert rows[4]["facts"] == ["newsletter_form"] and rows[2]["action"] == "share"

    # the newest N, through pages of rows: the same decisions as the tail of the whole log
    assert [r["id"] for r in query_log(db, LogFilter(limit=4))] == [6, 7, 8, 9]
    assert [r["id"] for r in query_log(db, LogFilter(limit=3, action="share"))] == [3, 9]
    assert count_log(db, LogFilter(data="email", purpose="marketing")) == 6
    assert count_log(db, LogFilter(decision=rows[5]["decision"])) == sum(r["decision"] == rows[5]["decision"] for r in rows)
    # on the time alone, counted from the rows: the same as expanding every decision
    assert count_log(db, LogFilter()) == len(rows) == 9
    for at in {r["ts"] for r in rows}:
        assert count_log(db, LogFilter(since=at)) == sum(r["ts"] >= at for r in rows)
        assert count_log(db, LogFilter(until=at)) == sum(r["ts"] < at for r in rows)

    # by id: a decision inside a batch row, from Python and from the installed console script
    inside = answered[3][1]["decision_id"]
    assert find_decision(db, inside)["query"] == BATCH[3]  # type: ignore[index]
    assert find_decision(db, OLD_ID)["id"] == 1  # type: ignore[index]
    shown = _log_cli(db, "--id", inside, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["decision_id"] == inside and json.loads(shown.stdout)["query"] == BATCH[3]
    listed = _log_cli(db, "--limit", "0", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == list(range(1, 10))

    # replay counts every decision of both layouts, grouped by question
    result = replay(db, policy, str(OPEN_E))
    assert result.rows == 9 and result.questions == 4 and result.changed == 0

    # shipping: a cursor may stop inside a batch row and carries on from the next decision
    reader = LogReader(db, "replica-a")
    try:
        shipped, cursor = [], 0
        while True:
            got = reader.read(cursor, 2)
            if not got:
                break
            assert len(got) <= 2
            shipped.extend(got)
            cursor = got[-1][0]
        assert reader.last_id() == 9
    finally:
        reader.close()
    assert [i for i, _ in shipped] == list(range(1, 10))
    assert [e["decision_id"] for _, e in shipped] == [r["decision_id"] for r in rows]
    assert [e["input"] for _, e in shipped] == [r["query"] for r in rows]
    assert shipped[3][1]["metrics"]["timer_decide_ns"] == int(rows[3]["latency_us"] * 1000)

    open_db(db).close()  # opening a migrated file again changes nothing
    assert [r["id"] for r in query_log(db, LogFilter(limit=0))] == list(range(1, 10))


def test_the_view_gives_one_row_per_decision_in_order(tmp_path):
    """The documented view, read with plain SQL (as `sqlite3 decisions.sqlite3` would)."""
    from policy_engine.server.decision_log import SqliteDecisionLog
    from policy_engine.server.encode import Encoder

    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    db = tmp_path / "d.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.01).start()
    queries = [{**Q, "purpose": p} for p in ("marketing", "analytics", "marketing", "accounting")]
    ids = [f"019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b{i:03x}" for i in range(len(queries))]
    sink.record_many([(q, encode(policy.decide(q)), 0.000001 * (i + 1), i_) for i, (q, i_) in
                      enumerate(zip(queries, ids))], traceparent=TRACE)
    sink.record({"action": "share", "data": "email", "recipient": "public"},
                encode(policy.decide({"action": "share", "data": "email", "recipient": "public"})), 0.0000025)
    sink.close()
    assert sink.flushed == 5
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, purpose, decision_id, latency_us, traceparent, decision FROM decision_log "
                        "ORDER BY id").fetchall()
    conn.close()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert [r[1] for r in rows] == ["marketing", "analytics", "marketing", "accounting", None]
    assert [r[2] for r in rows[:4]] == ids
    assert [r[3] for r in rows] == [1.0, 2.0, 3.0, 4.0, 2.5]
    assert [r[4] for r in rows] == [TRACE] * 4 + [None]
    assert [r[5] for r in rows] == [policy.decide(q).decision for q in queries] + ["deny"]


def test_a_block_of_ids_is_stored_compactly_unless_its_last_12_hex_digits_wrap(tmp_path):
    from policy_engine.server.deciding import Answered
    from policy_engine.server.decision_log import SqliteDecisionLog
    from policy_engine.server.encode import Encoder
    from policy_engine.server.ids import IdBlock
    from policy_engine.server.ids import DecisionIds as Ids

    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    gen = Ids()
    gen.block(1)
    # Held in one millisecond (10 s ahead, as if the clock went back), so no new one's fresh random
    # bits undo the wrap set up below; find_decision looks a minute either side of an id's time.
    gen._ms = time.time_ns() // 1_000_000 + 10_000
    compact = gen.block(5)
    gen._rand_b = (gen._rand_b | ((1 << 48) - 1)) - 2  # three ids before the low 48 bits wrap
    wrapped = gen.block(6)
    assert type(compact) is IdBlock and type(wrapped) is list and type(gen.block(1)) is IdBlock, "one id: a block of one"

    answers = [Answered(q, encode(policy.decide(q)), 0.0000015) for q in (BATCH[:4] + BATCH[5:]) * 2]
    db = tmp_path / "ids.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.01).start()
    sink.record_answers(answers[:5], compact)
    sink.record_answers(answers[:6], wrapped)
    sink.close()
    conn = sqlite3.connect(db)
    kinds = [r[0] for r in conn.execute("SELECT typeof(decision_ids) FROM decisions ORDER BY id")]
    conn.close()
    assert kinds == ["integer", "text"], "the first id and a count when they count up; else every id"
    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["decision_id"] for r in rows] == compact + wrapped
    assert [r["latency_us"] for r in rows] == [1.5] * 11
    for decision_id in (compact[3], wrapped[4], wrapped[5]):
        assert find_decision(db, decision_id)["decision_id"] == decision_id  # type: ignore[index]


def _everything(db: Path, policy: policy_engine.Policy) -> tuple[list[dict], list[tuple[int, dict]], int, int]:
    """What every reader sees: the log's rows, the shipped events, replay's count, count_log's."""
    rows = list(query_log(db, LogFilter(limit=0)))
    reader = LogReader(db, "replica-a")
    try:
        shipped, cursor = [], 0
        while got := reader.read(cursor, 3):
            shipped.extend(got)
            cursor = got[-1][0]
    finally:
        reader.close()
    return rows, shipped, replay(db, policy, str(OPEN_E)).rows, count_log(db, LogFilter())


@pytest.mark.parametrize("version", [3, 4])
def test_a_version_3_or_4_log_reads_as_it_did_before_and_after_a_server_migrates_it(tmp_path, workdir, version):
    db = tmp_path / f"v{version}.sqlite3"
    gen = ids.DecisionIds()
    old_id, block = gen.one(), gen.block(4)
    batch = [Q, BATCH[1], Q, BATCH[3]]
    policy = old_log(db, VERSION_3 if version == 3 else VERSION_4, BATCH[5], old_id, batch=batch, batch_ids=block)
    before = _everything(db, policy)  # read by this version's readers, the file left as it is
    rows = before[0]
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5] and before[2] == before[3] == 5
    assert [r["decision_id"] for r in rows] == [old_id, *block]
    assert [r["latency_us"] for r in rows] == [3.5, 1.0, 2.0, 3.0, 4.0]
    assert [r["query"] for r in rows] == [BATCH[5], *batch]
    assert [r["decision"] for r in rows] == [policy.decide(q).decision for q in [BATCH[5], *batch]]
    assert [e["decision_id"] for _, e in before[1]] == [old_id, *block]
    assert find_decision(db, block[2])["query"] == Q  # type: ignore[index]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version, "reading changed nothing"
    conn.close()

    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db), "--decision-log-mode", "audit")
    try:
        with srv.client() as http:
            many = http.post("/v1/decide/batch", json={"queries": BATCH}).json()["answers"]
            single = http.post("/v1/decide", json=BATCH[1]).json()
    finally:
        srv.stop()
    assert_clean_log(srv)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    stored = conn.execute("SELECT n, query, answer FROM decisions ORDER BY id").fetchall()
    keys = {k for (k,) in conn.execute("SELECT key FROM answers")}
    ids_of = dict(conn.execute("SELECT id, key FROM answers"))
    pairs = {i: (q, a) for i, q, a in conn.execute("SELECT id, query, answer FROM pairs")}
    conn.close()
    assert [n for n, _, _ in stored] == [None, 4, 5, None]
    old_answers = json.loads(stored[1][2])
    if version == 3:
        assert all(type(k) is str for k in old_answers) and set(old_answers) <= keys, "the old batch row: keys, as it was"
    else:
        assert all(type(i) is int and i in ids_of for i in old_answers), "the old batch row: answer ids, as it was"
    assert stored[2][2] == "", "a new batch row names each decision by its (query, answer) pair"
    new_pairs = json.loads(stored[2][1])
    assert all(type(i) is int and i in pairs for i in new_pairs) and len(set(new_pairs)) == 4  # Q twice
    assert all(pairs[i][1] in ids_of for i in new_pairs) and stored[3][2] in keys

    after = _everything(db, policy)
    assert after[0][:5] == before[0] and after[1][:5] == before[1], "the old rows read exactly as before"
    answered = [a for a in many if "decision" in a] + [single]
    assert [r["decision_id"] for r in after[0][5:]] == [a["decision_id"] for a in answered]
    assert [r["decision"] for r in after[0][5:]] == [a["decision"] for a in answered]
    assert [r["query"] for r in after[0][5:]] == [q for q, a in zip(BATCH, many) if "decision" in a] + [BATCH[1]]
    assert after[2] == after[3] == 5 + len(answered)
    assert [e["decision_id"] for _, e in after[1]] == [r["decision_id"] for r in after[0]]
    assert find_decision(db, block[3])["query"] == BATCH[3]  # type: ignore[index]
