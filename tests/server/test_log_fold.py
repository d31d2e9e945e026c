"""Single-decision requests folded into batch rows by the writer (server/log_fold.py): fewer rows,
and every reader still sees each decision as it was answered."""

from __future__ import annotations

import sqlite3
import struct
import time

import policy_engine
from policy_engine.guard.replay import replay
from policy_engine.server.decision_log import SqliteDecisionLog
from policy_engine.server.encode import Encoder
from policy_engine.server.log_fold import consecutive, fold_singles
from policy_engine.server.log_query import LogFilter, count_log, find_decision, query_log
from policy_engine.server.ids import DecisionIds as Ids
from policy_engine.shipping.reader import LogReader

from .conftest import OPEN_E

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
QUERIES = [{"action": "use", "data": "email", "source": "forum", "purpose": p}
           for p in ("marketing", "analytics", "accounting", "marketing", "analytics", "marketing", "accounting")]


def answered() -> list:
    """QUERIES answered by Open-E, as the routes hand them to the log (deciding.Answered)."""
    from policy_engine.server.deciding import Answered

    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    return [Answered(q, encode(policy.decide(q)), 0.000002) for q in QUERIES]


def test_only_runs_of_one_millisecond_without_a_trace_context_are_folded():
    class Enc:
        key = "k"

    enc = Enc()
    one = (1, 10.0001, "q", enc, 0.5, "id", None)
    traced = (1, 10.0002, "q", enc, 0.5, "id", TRACE)
    later = (1, 10.0021, "q", enc, 0.5, "id", None)
    batch = (3, 10.0003, "qs", None, None, None, None)

    def single(ts, tp=None, i=0, latency=0.25):
        return (1, ts, "q", enc, latency, f"019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b{i:03x}", tp)

    run = [single(10.0001, i=0), single(10.0004, i=1), single(10.0009, i=2)]
    out = fold_singles([*run, traced, batch, single(10.0012, i=5), single(10.0013, i=6, latency=0.5), later],
                       {("q", enc): "7"})
    assert [r[0] for r in out] == [3, 1, 3, 2, 1], "each run cut at a traced single, a batch row and a new millisecond"
    row = out[0]
    assert row[1] == 10.0001 and row[2] == "[7,7,7]" and row[3] is None, "decisions by their (query, answer) pair's id"
    assert row[4] == (0.75, struct.pack("<f", 0.25)), "the sum, and one float32 for three equal latencies"
    assert row[5] == ("019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b000", 0x2a61c0e5b000), "consecutive ids: the first and a number"
    assert out[1] is traced and out[2] is batch and out[4] is later
    assert out[3][4] == (0.75, struct.pack("<2f", 0.25, 0.5)), "unequal latencies: one float32 each"
    unknown = fold_singles(run, {})[0]
    assert unknown[2] == [("q", enc)] * 3 and unknown[3] is None, "not yet in the file: for the writer to learn"
    assert fold_singles([one], {}) == [one]


def test_ids_count_as_consecutive_only_when_every_one_is_the_next():
    base = "019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b"
    assert consecutive([base + "00f", base + "010", base + "011"])
    assert not consecutive([base + "00f", base + "00g", base + "011"]), "not hex, though it sorts between"
    assert not consecutive([base + "00f", base + "01-", base + "011"])
    assert not consecutive([base + "00f", base + "011"]) and not consecutive(["a", "b"])


def test_folded_singles_read_back_one_by_one_by_every_reader(tmp_path):
    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    db = tmp_path / "fold.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.2).start()
    gen = Ids()
    made = gen.block(len(QUERIES))
    stranger = made[5][:24] + "ffffffffffff"  # a caller's own id, out of the sequence
    decision_ids = made[:5] + [stranger] + made[6:]
    now = float(int(time.time()))  # near the ids' own time: find_decision looks there
    times = [now + t for t in (0.0001, 0.0002, 0.0003, 0.0004, 0.0011, 0.0012, 0.0013)]
    traces = [None, None, None, TRACE, None, None, None]
    for q, ts, i, tp, k in zip(QUERIES, times, decision_ids, traces, range(len(QUERIES))):
        sink._put((1, ts, q, encode(policy.decide(q)), 0.000001 * (k + 1), i, tp))  # one flush: the times are set
    sink.close()
    assert sink.flushed == len(QUERIES) and sink.dropped == 0

    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT n, typeof(decision_ids) FROM decisions ORDER BY id").fetchall()
    conn.close()
    assert stored == [(3, "integer"), (None, "null"), (3, "text")], "two runs folded, the traced single alone"

    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["id"] for r in rows] == list(range(1, 8))
    assert [r["query"] for r in rows] == QUERIES
    assert [r["decision_id"] for r in rows] == decision_ids
    assert [r["traceparent"] for r in rows] == traces
    assert [r["latency_us"] for r in rows] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert [r["decision"] for r in rows] == [policy.decide(q).decision for q in QUERIES]
    for row, ts in zip(rows, times):
        assert int(row["ts"] * 1000) == int(ts * 1000), "each decision keeps its millisecond"
    assert count_log(db, LogFilter(purpose="marketing")) == 3
    assert find_decision(db, stranger)["query"] == QUERIES[5]  # type: ignore[index]
    assert find_decision(db, made[1])["query"] == QUERIES[1]  # type: ignore[index]
    result = replay(db, policy, str(OPEN_E))
    assert result.rows == len(QUERIES) and result.changed == 0
    reader = LogReader(db, "replica-a")
    try:
        shipped = reader.read(0, 100)
    finally:
        reader.close()
    assert [e["decision_id"] for _, e in shipped] == decision_ids


class _SmallSqlite(SqliteDecisionLog):
    """A SQLite build that binds at most 999 parameters a statement (as before 3.32)."""

    def _open(self) -> None:
        super()._open()
        for conn in (self._conn, self._conn_here):  # the writer thread's, and the request side's (buffered)
            if conn is not None:
                conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)


def test_a_flush_larger_than_one_statement_binds_is_written_whole_with_its_ids_in_sequence(tmp_path):
    answers = answered()
    gen = Ids()
    for name, batched in (("singles", False), ("mixed", True)):
        db = tmp_path / f"{name}.sqlite3"
        sink = _SmallSqlite(db, flush_interval=0.5).start()
        made: list[str] = []
        for k in range(300):  # traced: each its own row, 6 or 10 parameters
            ids = gen.block(3 if batched and k % 50 == 0 else 1)
            sink.record_answers(answers[:len(ids)], ids, TRACE)
            made.extend(ids)
        sink.close()
        assert sink.flushed == len(made) and sink.dropped == 0
        rows = list(query_log(db, LogFilter(limit=0)))
        assert [r["id"] for r in rows] == list(range(1, len(made) + 1)), "one id per decision, none skipped"
        assert [r["decision_id"] for r in rows] == made


def test_the_request_sides_plain_inserts_store_what_the_padded_statement_does(tmp_path):
    """log_here.py writes through _insert_here (a transaction of plain VALUES rows, ids given), the
    writer thread through _insert (one padded statement): the same rows either way, split alike
    past what one statement binds."""
    from policy_engine.server import decision_log as dl

    stored = []
    for insert in (dl._insert, dl._insert_here):
        conn = dl.open_db(tmp_path / f"{insert.__name__}.sqlite3")
        conn.isolation_level = None
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        conn.execute("INSERT INTO decisions (ts, query, answer, latency_us) VALUES (1.0, 'q', 'k', 1.0)")
        for first in (0, 150):
            many = [x for k in range(1, 151) for x in (2 * k, 10.0 + k, f"[{k},{k}]", "[1,2]", 0.000002 * k,
                                                       f"id{first + k}", None, 2, b"\0\0\0@", 7)]
            insert(conn, dl._MANY_SQL, many, 10)  # 1,500 parameters: two statements
            insert(conn, dl._ONE_SQL, [20.0 + first, "q1", "k1", 0.0000015, f"one{first}", None], 6)
        stored.append(conn.execute("SELECT * FROM decisions ORDER BY id").fetchall())
        conn.close()
    assert stored[0] == stored[1]
    ids = [row[0] for row in stored[0]]
    assert ids[:3] == [1, 3, 5] and ids[150:153] == [301, 302, 304], "batch rows: the last id's place; singles next"
    assert len(stored[0]) == 303


def test_a_busy_file_is_left_to_the_writer_thread_and_nothing_is_lost(tmp_path):
    """Buffered, the request side writes itself (log_here.py) but never waits for a lock: while
    another connection holds the file's write lock, what it took is carried over to the writer
    thread, which waits for the lock and writes it, in order, before anything queued after."""
    answers = answered()
    db = tmp_path / "busy.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.005).start()
    gen = Ids()
    made: list[str] = []

    def record(n: int) -> None:
        ids = gen.block(n)
        sink.record_answers(answers[:n], ids)
        made.extend(ids)

    for _ in range(200):  # until the file is open and the request side has written once
        record(1)
        time.sleep(0.01)
        if sink.flushed:
            break
    assert sink.flushed and sink._ready
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file
    try:
        before = sink.flushed
        for n in (3, 1, 5, 2):
            time.sleep(0.01)  # past the flush interval: the request side tries, finds the file busy
            record(n)
        assert sink.flushed == before and sink.dropped == 0, "nothing written, nothing dropped while busy"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    record(4)
    sink.close()
    assert sink.flushed == len(made) and sink.dropped == 0 and sink.pending() == 0
    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["decision_id"] for r in rows] == made, "every decision, in the order asked"
    assert [r["id"] for r in rows] == list(range(1, len(made) + 1))


def test_while_an_event_loop_writes_the_writer_thread_checkpoints_now_and_then(tmp_path):
    """The request side writes on an event loop (log_here.py) and never checkpoints; the writer
    thread does, asked every _CHECKPOINT_EVERY of its flushes: the file itself grows while the
    sink is open, and every decision reads back."""
    import asyncio
    import os

    from policy_engine.server import decision_log as dl
    answers = answered()
    db = tmp_path / "checkpoint.sqlite3"
    sink = SqliteDecisionLog(db, flush_interval=0.001).start()
    gen = Ids()
    made: list[str] = []

    async def serve() -> int:
        flushes = 0
        for _ in range(5000):  # bounded: until the request side has flushed enough, or the file grew
            before = sink.flushed
            ids = gen.block(len(answers))
            sink.record_answers(answers, ids)
            made.extend(ids)
            flushes += sink.flushed > before
            await asyncio.sleep(0.002)
            if flushes > 2 * dl._CHECKPOINT_EVERY and os.path.getsize(db) > 2 * 65536:
                break
        return flushes

    flushes = asyncio.run(serve())
    grown = os.path.getsize(db)
    sink.close()
    assert flushes > dl._CHECKPOINT_EVERY, "the request side wrote, on the event loop"
    assert grown > 2 * 65536, "a checkpoint copied the WAL into the file while it was open"
    assert sink.flushed == len(made) and sink.dropped == 0
    assert [r["decision_id"] for r in query_log(db, LogFilter(limit=0))] == made


def test_the_request_side_reuses_a_handful_of_statements_whatever_the_flush_size(tmp_path):
    """Each flush's rows go in statements of a power of two rows: however many rows the flushes
    hold, a few statements are prepared (a statement per row count was prepared anew each flush)."""
    from policy_engine.server import decision_log as dl

    conn = dl.open_db(tmp_path / "sizes.sqlite3")
    conn.isolation_level = None
    dl._plain.cache_clear()
    offset = 0
    for rows in range(1, 301):
        many = [x for k in range(1, rows + 1) for x in (2 * k, float(offset + k), "[1,2]", "", 0.000002, f"id{offset + k}",
                                                        None, 2, b"\0\0\0@", 7)]
        dl._insert_here(conn, dl._MANY_SQL, many, 10)
        offset += rows
    assert dl._plain.cache_info().currsize <= 9, "row counts 1-300: the statements of 1, 2, 4, ... 256 rows"
    stored = conn.execute("SELECT ts, decision_id FROM decisions ORDER BY id").fetchall()
    conn.close()
    assert len(stored) == offset == 300 * 301 // 2
    assert [ts for ts, _ in stored] == [float(k) for k in range(1, offset + 1)], "every row, in order"
    assert [i for _, i in stored] == [f"id{k}" for k in range(1, offset + 1)]
