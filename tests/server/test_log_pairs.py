"""Batch rows that name each decision by its (query, answer) pair (server/log_schema.py, version 5):
whichever way an answer reaches the log (the memo's Remembered object, an Answered made for the
request, the loose values of `record_many`, a single folded with others), the same question with the
same answer is one row of `pairs`, found again in the file by a second writer, and every reader sees
each decision's own query, answer and latency. Real SQLite files."""

from __future__ import annotations

import sqlite3

import policy_engine
from policy_engine.server import decision_log as dl
from policy_engine.server.deciding import Answered, Decider
from policy_engine.server.encode import Encoder, Remembered
from policy_engine.server.log_query import LogFilter, query_log
from policy_engine.server.ids import DecisionIds as Ids

from .conftest import OPEN_E

QUERIES = [{"action": "use", "data": "email", "source": "forum", "purpose": p}
           for p in ("marketing", "analytics", "accounting")]


def _pairs(db) -> list[tuple[int, int]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT query, answer FROM pairs ORDER BY id").fetchall()
    finally:
        conn.close()


def test_every_way_an_answer_comes_names_one_pair_and_reads_back_as_asked(tmp_path):
    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    encs = [encode(policy.decide(q)) for q in QUERIES]
    texts = [dl.query_text(q) for q in QUERIES]
    remembered = [Remembered(t, e, 0.25) for t, e in zip(texts, encs)]
    gen = Ids()
    db = tmp_path / "pairs.sqlite3"
    sink = dl.SqliteDecisionLog(db, flush_interval=0.01).start()
    made: list[str] = []
    expected: list[tuple[dict, str, float]] = []

    def record(answers, latency=None, expect_latency=None):
        ids = gen.block(len(answers))
        sink.record_answers(answers, ids, None, latency)
        made.extend(ids)
        for a in answers:
            expected.append((QUERIES[texts.index(a.query)] if type(a.query) is str else a.query, a.enc.label,
                             expect_latency if expect_latency is not None else a.latency * 1e6))

    record([remembered[0], remembered[1], remembered[0]], latency=0.000003, expect_latency=3.0)  # the memo's hits
    record([Answered(texts[1], encs[1], 0.000004), Answered(texts[2], encs[2], 0.000005)])  # the ASGI route's
    record([Answered(QUERIES[2], encs[2], 0.000006), Answered(QUERIES[0], encs[0], 0.000007)])  # asked, decided
    sink.record_many([(QUERIES[0], encs[0], 0.000008, "019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b001"),
                      (texts[1], encs[1], 0.000009, "019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b002")])
    made += ["019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b001", "019ad5e2-7c3a-7b1e-9f4d-2a61c0e5b002"]
    expected += [(QUERIES[0], encs[0].label, 8.0), (QUERIES[1], encs[1].label, 9.0)]
    sink.close()
    assert sink.flushed == len(made) == 9 and sink.dropped == 0

    assert len(_pairs(db)) == 3, "one pair per question and answer, however it came"
    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["decision_id"] for r in rows] == made
    assert [(r["query"], r["decision"], r["latency_us"]) for r in rows] == expected
    assert [r["rules"] for r in rows[:3]] == [policy.decide(q).to_dict()["reasons"] for q in (QUERIES[0], QUERIES[1], QUERIES[0])]


def test_a_second_writer_and_a_cleared_memory_find_the_pairs_in_the_file(tmp_path, monkeypatch):
    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    db = tmp_path / "again.sqlite3"
    gen = Ids()

    def write(answers, sink):
        ids = gen.block(len(answers))
        sink.record_answers(answers, ids)
        return ids

    first = dl.SqliteDecisionLog(db, flush_interval=0.01).start()
    answers = [Answered(q, encode(policy.decide(q)), 0.000001) for q in QUERIES]
    made = write(answers, first)
    first.close()
    assert len(_pairs(db)) == 3

    # Another worker (or the next server) on the same file, whose answers are other objects
    second = dl.SqliteDecisionLog(db, flush_interval=0.01).start()
    again = Encoder()
    made += write([Remembered(dl.query_text(q), again(policy.decide(q)), 0.000001) for q in reversed(QUERIES)], second)
    monkeypatch.setattr(dl, "_MEMO_LIMIT", 1)  # what the writer knows is forgotten before each flush
    made += write([Remembered(dl.query_text(q), again(policy.decide(q)), 0.000001) for q in QUERIES], second)
    second.close()
    assert len(_pairs(db)) == 3, "no pair stored twice"
    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["decision_id"] for r in rows] == made
    assert [r["query"] for r in rows] == QUERIES + QUERIES[::-1] + QUERIES


def test_another_answer_to_the_same_question_is_another_pair(tmp_path):
    """A reload: the same query text, answered by another version of the policy."""
    before = policy_engine.load(OPEN_E)
    text = OPEN_E.read_text().replace("deny use of email from forum for marketing",
                                      "allow use of email from forum for marketing", 1)
    assert text != OPEN_E.read_text()
    changed = tmp_path / "changed.policy"
    changed.write_text(text)
    after = policy_engine.load(changed)
    encode = Encoder()
    q = QUERIES[0]
    a, b = encode(before.decide(q)), encode(after.decide(q))
    assert a.label != b.label
    db = tmp_path / "reload.sqlite3"
    sink = dl.SqliteDecisionLog(db, flush_interval=0.01).start()
    gen = Ids()
    t = dl.query_text(q)
    sink.record_answers([Remembered(t, a, 0.0), Remembered(t, a, 0.0)], gen.block(2))
    sink.record_answers([Remembered(t, b, 0.0), Remembered(t, b, 0.0)], gen.block(2))
    sink.close()
    pairs = _pairs(db)
    assert len(pairs) == 2 and pairs[0][0] == pairs[1][0] and pairs[0][1] != pairs[1][1]
    rows = list(query_log(db, LogFilter(limit=0)))
    assert [r["decision"] for r in rows] == [a.label, a.label, b.label, b.label]
    assert {r["digest"] for r in rows[2:]} == {after.digest}


def test_a_memo_hit_is_the_remembered_object_itself_with_the_lookups_time():
    import asyncio

    policy = policy_engine.load(OPEN_E)
    decider = Decider(Encoder(), threads=1, budget=5.0)
    try:
        assert decider.hits(policy, QUERIES) is None, "nothing remembered yet"
        decided = asyncio.run(decider.decide(policy, QUERIES))
        assert all(type(o) is Answered for o in decided)
        first, each = decider.hits(policy, QUERIES)
        again, _ = decider.hits(policy, [QUERIES[1], QUERIES[0]])
        assert all(type(h) is Remembered for h in first) and again == [first[1], first[0]]
        assert again[0] is first[1], "the same object for every hit: no object made per hit"
        assert [h.enc for h in first] == [o.enc for o in decided] and [h.query for h in first] == [
            dl.query_text(q) for q in QUERIES]
        assert 0 <= each < 1.0
        routed = asyncio.run(decider.decide(policy, QUERIES))  # the ASGI route's: an Answered per hit, its latency
        assert all(type(o) is Answered for o in routed) and [o.enc for o in routed] == [h.enc for h in first]
    finally:
        decider.close()


def test_a_count_by_the_answer_or_the_question_counts_pairs_as_the_decisions_they_name(tmp_path):
    """`count_log` counts version 5's batch rows by pair (each distinct pair looked up once); every
    filter gives what filtering each decision's row gives, the time too."""
    import time as clock

    from policy_engine.server.log_query import count_log

    policy = policy_engine.load(OPEN_E)
    encode = Encoder()
    asked = [*QUERIES, {"action": "share", "data": "email", "recipient": "public"},
             {"action": "use", "data": "email", "source": "contact", "purpose": "marketing", "facts": ["newsletter_form"]},
             {"action": "collect", "data": "email", "source": "contact"}]
    remembered = [Remembered(dl.query_text(q), encode(policy.decide(q)), 0.000001) for q in asked]
    db = tmp_path / "count.sqlite3"
    sink = dl.SqliteDecisionLog(db, flush_interval=0.005).start()
    gen = Ids()
    for k in range(12):
        batch = [remembered[(k + i) % len(remembered)] for i in range(3 + k % 4)]
        sink.record_answers(batch, gen.block(len(batch)), None, 0.000002)  # a batch row, its pairs
        sink.record_answers([remembered[k % len(remembered)]], gen.block(1))  # a single's row
        clock.sleep(0.003)
    sink.close()
    rows = list(query_log(db, LogFilter(limit=0)))
    conn = sqlite3.connect(db)
    kinds = conn.execute("SELECT count(*) FROM decisions WHERE n IS NOT NULL AND answer = ''").fetchone()[0]
    conn.close()
    assert kinds > 0 and len(rows) == sum(3 + k % 4 for k in range(12)) + 12
    times = sorted({r["ts"] for r in rows})
    filters = [LogFilter(decision=d) for d in ("allow", "deny", "conditional")]
    filters += [LogFilter(data="email"), LogFilter(purpose="marketing"), LogFilter(action="share"),
                LogFilter(source="contact", decision="allow"), LogFilter(digest=policy.digest[:13]),
                LogFilter(digest="sha256:0000"), LogFilter(recipient="public", since=times[len(times) // 2])]
    filters += [LogFilter(decision="deny", since=t) for t in times[::5]] + [LogFilter(purpose="marketing", until=t)
                                                                           for t in times[::5]]

    def matches(row: dict, f: LogFilter) -> bool:
        def term(value, wanted):
            return wanted is None or value == wanted or (value or "").startswith(wanted + ".")
        return ((f.since is None or row["ts"] >= f.since) and (f.until is None or row["ts"] < f.until)
                and (f.decision is None or row["decision"] == f.decision)
                and (f.action is None or row["action"] == f.action)
                and all(term(row[c], getattr(f, c)) for c in ("data", "purpose", "source", "recipient"))
                and (f.digest is None or row["digest"].startswith(f.digest)))

    for f in filters:
        assert count_log(db, f) == sum(matches(r, f) for r in rows), f
    assert count_log(db, LogFilter(decision="deny")) > 0 and count_log(db, LogFilter(digest="sha256:0000")) == 0
