"""Memo hits folded into runs as they are queued (server/log_runs.py): one row a millisecond, and
every reader sees each decision as it was answered, as when the writer folds them (log_fold.py).
Real SQLite files; the clock the runs read is set by the tests."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import types

import pytest
from hypothesis import given, settings, strategies as st

import policy_engine
from policy_engine.server import decision_log as dl, log_runs, log_writer
from policy_engine.server.encode import Encoder, Remembered
from policy_engine.server.log_query import LogFilter, query_log
from policy_engine.server.ids import DecisionIds as Ids, IdBlock
from policy_engine.server.log_writer import IDS

from .conftest import OPEN_E

QUERIES = [{"action": "use", "data": "email", "source": "forum", "purpose": p}
           for p in ("marketing", "analytics", "accounting")]
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
T0 = float(int(time.time()))  # a whole second near now: T0 + k/1000 + a little is in millisecond k


@pytest.fixture(scope="module")
def hits() -> list[Remembered]:
    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    return [Remembered(dl.query_text(q), encode(policy.decide(q)), 0.000002) for q in QUERIES]


class Clock:
    """The time module as the log reads it (log_runs, log_writer), its time() set by the test."""

    def __init__(self) -> None:
        self.now = T0 + 0.0001
        self.module = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
        self.module.time = lambda: self.now

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(log_runs, "time", self.module)
        monkeypatch.setattr(log_runs, "_time", self.module.time)
        monkeypatch.setattr(log_writer, "time", self.module)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    c.install(monkeypatch)
    return c


def held(gen: Ids) -> Ids:
    """`gen` held in one millisecond (10 s ahead), so its ids count up by one from call to call."""
    gen.block(1)
    gen._ms = time.time_ns() // 1_000_000 + 10_000
    return gen


def started(db, **kwargs) -> dl.SqliteDecisionLog:
    """A log whose file is open (the writer thread opens it), so a test may flush it itself."""
    sink = dl.SqliteDecisionLog(db, **kwargs).start()
    deadline = time.monotonic() + 10
    while not sink._ready and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sink._ready
    return sink


def _rows(db) -> list[tuple[int, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT n, typeof(decision_ids) FROM decisions ORDER BY id").fetchall()
    finally:
        conn.close()


def test_the_hits_of_one_millisecond_are_one_row_cut_by_anything_else_queued(tmp_path, hits, clock):
    db = tmp_path / "runs.sqlite3"
    sink = started(db, flush_interval=3600)
    gen = held(Ids())
    made: list[str] = []
    latencies: list[float] = []

    def hit(a: Remembered, latency: float, *, trace: str | None = None, ids=None) -> None:
        ids = ids if ids is not None else gen.block(1)
        sink.record_answers([a], ids, trace, latency)
        made.append(ids[0])
        latencies.append(latency)

    hit(hits[0], 0.000001)
    hit(hits[1], 0.000002)
    hit(hits[0], 0.000003)  # three in millisecond 0
    assert len(sink._hits) == 3 and sink.pending() == 3, "held as a run, counted as pending"
    hit(hits[2], 0.000004, trace=TRACE)  # a trace context: its own row, after the run
    hit(hits[1], 0.000005)
    clock.now += 0.001
    hit(hits[2], 0.000006)  # millisecond 1: the run of one before it is a single's row
    hit(hits[0], 0.000007)
    hit(hits[0], 0.000008, ids=[gen.one()])  # an id not made as the sequence's block: a row of its own
    batch = gen.block(2)
    sink.record_answers([hits[1], hits[2]], batch, None, 0.000009)
    made.extend(batch)
    latencies += [0.000009, 0.000009]
    hit(hits[1], 0.00001)
    gen.one()  # an id taken by something else between two hits of one run
    hit(hits[2], 0.000011)
    last = gen.one()
    sink.record(QUERIES[0], hits[0].enc, 0.000012, last)  # the older way in: after the run too
    made.append(last)
    latencies.append(0.000012)
    sink.close()

    single = (None, "null")  # a row of its own: its one decision id in decision_id
    assert _rows(db) == [(3, "integer"), single, single, (2, "integer"), single, (2, "integer"), (2, "text"), single], \
        "runs cut at a trace, a new millisecond, a foreign id and a batch; a gapped run's ids one by one"
    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["decision_id"] for r in rows] == made, "every id as made, the gapped run's one by one"
    assert [r["latency_us"] for r in rows] == pytest.approx([x * 1e6 for x in latencies], rel=1e-6)
    asked = [0, 1, 0, 2, 1, 2, 0, 0, 1, 2, 1, 2, 0]
    assert [r["purpose"] for r in rows] == [QUERIES[i]["purpose"] for i in asked]
    assert [r["traceparent"] for r in rows] == [None] * 3 + [TRACE] + [None] * 9
    assert {int(r["ts"] * 1000) - int(T0 * 1000) for r in rows[:4]} == {0}
    assert {int(r["ts"] * 1000) - int(T0 * 1000) for r in rows[5:]} == {1}


def test_a_run_is_written_by_a_flush_and_by_close(tmp_path, hits):
    db = tmp_path / "flush.sqlite3"
    sink = started(db, flush_interval=3600)
    ids = [IDS.block(1) for _ in range(5)]
    for i in ids[:3]:
        sink.record_answers([hits[0]], i, None, 0.000001)
    with sink._lock:
        requests = sink._take()
    assert [r[0] for r in requests] == [3] and not sink._hits, "a flush takes the run in progress"
    sink._write_batch(requests)
    for i in ids[3:]:
        sink.record_answers([hits[1]], i, None, 0.000001)
    sink.close()
    assert sink.flushed == 5 and sink.dropped == 0 and sink.pending() == 0
    assert [r["decision_id"] for r in query_log(db, LogFilter(limit=0))] == [i[0] for i in ids]
    sink.record_answers([hits[1]], IDS.block(1), None, 0.000001)
    assert sink.dropped == 1 and not sink._hits, "after close: dropped and counted, not held"


def test_on_an_event_loop_a_run_left_when_requests_stop_is_written_a_flush_interval_later(tmp_path, hits):
    db = tmp_path / "tail.sqlite3"
    sink = started(db, flush_interval=0.02)

    async def requests() -> int:
        for _ in range(100):  # until a flush on the loop has armed its timer (the writer thread then stands by)
            sink.record_answers([hits[0]], IDS.block(1), None, 0.000001)
            await asyncio.sleep(0.005)
            if sink._tail_armed:
                break
        assert sink._tail_armed
        while sink.pending():  # the timer writes what was left
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.03)
        before = sink.flushed
        sink.record_answers([hits[0]], IDS.block(1), None, 0.000001)  # a flush interval on: written at once
        sink.record_answers([hits[1]], IDS.block(1), None, 0.000001)
        sink.record_answers([hits[2]], IDS.block(1), None, 0.000001)  # and requests stop
        assert sink.flushed == before + 1 and sink.pending() == 2 and sink._queue.empty(), "held in a run"
        before += 1
        for _ in range(30):  # 0.3 s: well before the writer thread's turn (a second without a flush)
            await asyncio.sleep(0.01)
            if sink.flushed == before + 2:
                break
        return sink.flushed - before

    assert asyncio.run(requests()) == 2, "the loop's timer writes the run, not the writer thread an idle second later"
    sink.close()


def test_a_hit_checks_the_bound_and_the_writer_once_a_millisecond(tmp_path, hits, clock):
    sink = started(tmp_path / "behind.sqlite3", flush_interval=3600, max_pending=4)  # far behind above 2
    for _ in range(3):
        assert sink.hit(hits[0], IDS.block(1)[0], 0.000001) is None, "within the run's millisecond: appended"
    clock.now += 0.001
    behind = sink.hit(hits[1], IDS.block(1)[0], 0.000001)  # seals the run of 3: now far behind
    assert asyncio.iscoroutine(behind) and sink.pending() == 4
    with sink._lock:
        requests = sink._take()
    sink._write_batch(requests)
    asyncio.run(behind)  # the writer caught up: returns at once
    assert sink.flushed == 4 and sink.pending() == 0
    said = []
    for _ in range(4):  # one a millisecond: each seals the last
        clock.now += 0.001
        said.append(sink.hit(hits[2], IDS.block(1)[0], 0.000001))
    assert said[:3] == [None] * 3 and asyncio.iscoroutine(said[3]), "far behind once 3 are queued"
    said[3].close()
    assert sink.dropped == 0 and sink.pending() == 4
    clock.now += 0.001
    assert sink.hit(hits[2], IDS.block(1)[0], 0.000001) is None and sink.dropped == 1, \
        "the queue full at a millisecond's first hit: dropped and counted"
    sink.close()
    assert sink.flushed == 8 and sink.dropped == 1 and not sink._hits


def test_after_close_a_hit_in_the_same_millisecond_is_dropped_and_counted(tmp_path, hits, clock):
    sink = started(tmp_path / "closed.sqlite3", flush_interval=3600)
    assert sink.hit(hits[0], IDS.block(1)[0], 0.000001) is None
    sink.close()  # the clock stands still: the next hit is in the run's millisecond
    assert sink.hit(hits[1], IDS.block(1)[0], 0.000001) is None
    assert sink.flushed == 1 and sink.dropped == 1 and not sink._hits, "not held in a run no one writes"


def test_the_short_way_in_only_where_runs_are_kept(tmp_path, hits):
    audit = dl.SqliteDecisionLog(tmp_path / "audit.sqlite3", mode="audit")
    assert audit.hit is None, "audit mode: every answer waits for its commit (record_answers)"
    assert dl.JsonLinesDecisionLog(stream=None).hit is None
    assert dl.NullDecisionLog().hit(hits[0], IDS.block(1)[0], 0.000001) is None
    buffered = dl.SqliteDecisionLog(tmp_path / "buffered.sqlite3")
    assert buffered.hit is not None and buffered.hit.__func__ is log_runs.RunsOfSingles._hit


def test_the_same_id_given_twice_is_stored_as_given_not_as_a_count(tmp_path, hits, clock):
    db = tmp_path / "twice.sqlite3"
    sink = started(db, flush_interval=3600)
    gen = held(Ids())
    first = gen.block(1)
    gen.one()
    last = gen.block(1)
    for ids in (first, first, last):  # a caller's mistake: spans three ids and has three, but not in sequence
        sink.record_answers([hits[0]], ids, None, 0.000001)
    sink.close()
    assert _rows(db) == [(3, "text")], "stored one by one"
    assert [r["decision_id"] for r in query_log(db, LogFilter(limit=0))] == [first[0], first[0], last[0]]


def test_compact_ids_only_for_ids_that_count_up_by_one():
    gen = Ids()
    block = gen.block(4)
    assert log_runs.compact_ids(block) == int(block[0][24:], 16)
    assert log_runs.compact_ids([block[0], block[2], block[1], block[3]]).startswith('["'), "spans 4, out of order"
    assert log_runs.compact_ids([block[0], block[0], block[2]]).startswith('["'), "spans 3, one twice"
    assert log_runs.compact_ids(block[:1]) == int(block[0][24:], 16)


def test_threads_recording_while_the_log_flushes_lose_nothing_and_store_nothing_twice(tmp_path, hits):
    db = tmp_path / "threads.sqlite3"
    sink = started(db, flush_interval=3600)
    made: list[list[str]] = [[] for _ in range(4)]
    stop = threading.Event()

    def record(k: int) -> None:
        for i in range(1500):
            ids = IDS.block(1)
            if k < 2 and i % 97:  # direct.py's way in
                sink.hit(hits[i % 3], ids[0], 0.000001)
            else:
                sink.record_answers([hits[i % 3]], ids, TRACE if i % 97 == 0 else None, 0.000001)
            made[k].append(ids[0])

    def flush() -> None:
        while not stop.is_set():
            with sink._lock:
                requests = sink._take()
            if requests:
                sink._write_batch(requests)

    flusher = threading.Thread(target=flush)
    flusher.start()
    threads = [threading.Thread(target=record, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    flusher.join()
    sink.close()
    rows = [r["decision_id"] for r in query_log(db, LogFilter(limit=0))]
    assert sink.flushed == len(rows) == 6000 and sink.dropped == 0
    assert sorted(rows) == sorted(i for ids in made for i in ids), "each decision once"
    for ids in made:  # one thread's decisions keep their order
        own = set(ids)
        assert [i for i in rows if i in own] == ids


class _FasterThanTaken:
    """A queue whose producer puts one more item each time one is taken: taking until it is empty
    would never end."""

    def __init__(self, items: int) -> None:
        self.items, self.gets = items, 0

    def qsize(self) -> int:
        return self.items

    def get_nowait(self):
        self.gets += 1
        if self.gets > 10_000:
            raise AssertionError("still taking")
        return ((1, T0, "q", None, 0.0, "id", None), None)


def test_a_flush_takes_what_was_queued_when_it_began_not_what_comes_while_it_takes(tmp_path):
    sink = dl.SqliteDecisionLog(tmp_path / "take.sqlite3", flush_interval=3600)
    sink._queue = _FasterThanTaken(5)  # type: ignore[assignment]
    assert len(sink._take()) == 5


OPS = st.lists(st.one_of(
    st.tuples(st.just("hit"), st.integers(0, 2), st.integers(1, 9)),
    st.tuples(st.just("direct"), st.integers(0, 2), st.integers(1, 9)),
    st.tuples(st.just("traced"), st.integers(0, 2), st.integers(1, 9)),
    st.tuples(st.just("foreign"), st.integers(0, 2), st.integers(1, 9)),
    st.tuples(st.just("batch"), st.integers(0, 2), st.integers(2, 4)),
    st.tuples(st.just("gap"), st.just(0), st.just(0)),
    st.tuples(st.just("tick"), st.just(0), st.integers(1, 3)),
    st.tuples(st.just("flush"), st.just(0), st.just(0)),
), max_size=40)


@settings(deadline=None)
@given(ops=OPS)
def test_whatever_comes_between_them_every_decision_reads_back_as_recorded(tmp_path_factory, hits, ops):
    """The law: with runs or without (the writer folding), each decision reads back with its own id,
    query, answer, latency and trace context, in the order recorded, at a time in its own millisecond,
    whichever way it came in (`hit`, `record_answers`, `record`)."""
    for runs in (True, False):
        db = tmp_path_factory.mktemp("law") / "runs.sqlite3"
        clock = Clock()
        with pytest.MonkeyPatch.context() as monkeypatch:
            clock.install(monkeypatch)
            sink = started(db, flush_interval=3600)
            sink._runs = runs
            gen = Ids()
            expected = []
            for op, which, x in ops:
                if op == "tick":
                    clock.now += x / 1000
                elif op == "gap":
                    gen.one()
                elif op == "flush":
                    with sink._lock:
                        requests = sink._take()
                    sink._write_batch(requests)
                elif op == "batch":
                    ids = gen.block(x)
                    sink.record_answers([hits[(which + k) % 3] for k in range(x)], ids, None, 0.000003)
                    expected += [(i, hits[(which + k) % 3].enc.label, 3.0, None, int(clock.now * 1000))
                                 for k, i in enumerate(ids)]
                elif op == "direct" and runs:  # direct.py's way in (without runs it has none)
                    ids = gen.block(1)
                    assert sink.hit(hits[which], ids[0], x / 1e6) is None
                    expected.append((ids[0], hits[which].enc.label, float(x), None, int(clock.now * 1000)))
                else:
                    ids = [gen.one()] if op == "foreign" else gen.block(1)
                    trace = TRACE if op == "traced" else None
                    sink.record_answers([hits[which]], ids, trace, x / 1e6)
                    expected.append((ids[0], hits[which].enc.label, float(x), trace, int(clock.now * 1000)))
            sink.close()
        assert sink.dropped == 0 and sink.flushed == len(expected)
        rows = list(query_log(db, LogFilter(limit=0)))
        got = [(r["decision_id"], r["decision"], round(r["latency_us"], 3), r["traceparent"], int(r["ts"] * 1000))
               for r in rows]
        assert got == expected


def test_a_block_of_one_is_the_sequences_own():
    assert type(IDS.block(1)) is IdBlock and IDS.block(0) == []
