"""Decision ids and trace context (issue 13 item 2): every answer, single or batch, carries a UUIDv7
`decision_id` that is the id of its decision-log row; a valid `traceparent` is written into the
rows; one row is found by its id (`log_query.find_decision`, `policy-engine log --id`); a log
written before decision ids is still read, replayed and, once a server opens it, migrated."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from policy_engine.guard.replay import replay
from policy_engine.server import ids
from policy_engine.server.decision_log import SCHEMA_VERSION, open_db
from policy_engine.server.log_query import LogFilter, find_decision, query_log

from .conftest import OPEN_E, SCRIPT, UUID7, assert_clean_log, start
from .old_logs import VERSION_1, old_log

Q = {"action": "use", "data": "email", "source": "forum", "purpose": "marketing"}
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


# ---- the ids ------------------------------------------------------------------------------------

def test_ids_are_uuid7_strictly_increasing_and_carry_their_millisecond():
    gen = ids.DecisionIds()
    before = time.time_ns() // 1_000_000
    made = [i for n in (1, 100, 7, 1, 4096) for i in gen.block(n)]
    after = time.time_ns() // 1_000_000
    assert len(made) == 1 + 100 + 7 + 1 + 4096
    assert made == sorted(made) and len(set(made)) == len(made)
    for text in made[:200] + made[-10:]:
        u = uuid.UUID(text)
        assert UUID7.fullmatch(text) and u.version == 7 and u.variant == uuid.RFC_4122
        assert before <= ids.millis(text) <= after
    assert gen.block(0) == []
    assert ids.millis("not-an-id") is None and ids.millis(str(uuid.uuid4())) is None


def test_a_block_that_crosses_the_last_12_hex_digits_still_counts_up():
    gen = ids.DecisionIds()
    gen.block(1)
    gen._rand_b = (gen._rand_b | ((1 << 48) - 1)) - 2  # three ids before the low 48 bits wrap
    block = gen.block(6)
    assert block == sorted(block) and len(set(block)) == 6
    assert all(UUID7.fullmatch(b) for b in block)
    assert int(block[-1].replace("-", ""), 16) - int(block[0].replace("-", ""), 16) == 5


class _Clock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000_000 * 1_000_000

    def time_ns(self) -> int:
        return self.ns


@given(st.lists(st.one_of(
    st.tuples(st.just("block"), st.integers(0, 6)),
    st.tuples(st.just("tick"), st.integers(1, 3)),  # the clock moves on some milliseconds
    st.tuples(st.just("back"), st.integers(1, 3)),  # the clock steps back
    st.tuples(st.just("edge"), st.integers(0, 3)),  # the counter moved on to k ids before its low 48 bits wrap
), max_size=40))
def test_whatever_the_clock_does_ids_strictly_increase_and_a_block_says_when_it_counts_up(steps):
    clock = _Clock()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(ids, "time", clock)
        made = _take_ids(clock, steps)
    assert made == sorted(made) and len(set(made)) == len(made)


def _take_ids(clock: _Clock, steps: list[tuple[str, int]]) -> list[str]:
    gen = ids.DecisionIds()
    made: list[str] = []
    for step, k in steps:
        if step == "tick":
            clock.ns += k * 1_000_000
        elif step == "back":
            clock.ns -= k * 1_000_000
        elif step == "edge":  # moved on, never back (that would give an id again)
            gen.block(1)
            gen._rand_b = max(gen._rand_b, (gen._rand_b | ((1 << 48) - 1)) - k)
        else:
            block = gen.block(k)
            values = [int(b.replace("-", ""), 16) for b in block]
            assert [ids._text(v) for v in values] == block and all(UUID7.fullmatch(b) for b in block)
            counts_up = len(block) > 0 and values == list(range(values[0], values[0] + k)) \
                and len({b[:24] for b in block}) == 1
            assert (type(block) is ids.IdBlock) == counts_up, "an IdBlock exactly when they count up in one prefix"
            assert k == 0 or ids.millis(block[0]) >= clock.ns // 1_000_000 or made, "not before the clock"
            made += block
    return made


# ---- the server ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def audited(workdir):
    """Audit mode: an answer is sent only once its row is committed, so the test reads it at once."""
    db = workdir / "ids.sqlite3"
    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db), "--decision-log-mode", "audit")
    yield srv, db
    srv.stop()


def test_every_answer_has_the_id_of_its_log_row_and_the_trace_is_logged(audited):
    srv, db = audited
    batch = [Q, {**Q, "facts": []}, {**Q, "data": "emial"}, {"action": "collect", "data": "email", "source": "contact"}]
    with srv.client() as http:
        single = http.post("/v1/decide", json=Q, headers={"traceparent": TRACE})
        many = http.post("/v1/decide/batch", json={"queries": batch})
        untraced = http.post("/v1/decide", json=Q, headers={"traceparent": "ff-" + TRACE[3:]})  # version ff: invalid
    assert single.status_code == many.status_code == untraced.status_code == 200
    one = single.json()
    assert list(one)[0] == "decision_id" and single.headers["decision-id"] == one["decision_id"]
    answers = many.json()["answers"]
    assert "error" in answers[2] and "decision_id" not in answers[2], "an error object is not a decision"
    batch_ids = [a["decision_id"] for a in answers if "decision" in a]
    assert len(batch_ids) == 3 and batch_ids == sorted(batch_ids) and one["decision_id"] < batch_ids[0]

    rows = {r["decision_id"]: r for r in query_log(db, LogFilter(limit=0))}
    assert rows[one["decision_id"]]["traceparent"] == TRACE
    assert rows[one["decision_id"]]["query"] == Q and rows[one["decision_id"]]["decision"] == one["decision"]
    for answer, query in zip([a for a in answers if "decision" in a], [batch[0], batch[1], batch[3]]):
        row = rows[answer["decision_id"]]
        assert row["decision"] == answer["decision"] and row["query"] == query and row["traceparent"] is None
    assert rows[untraced.json()["decision_id"]]["traceparent"] is None

    found = find_decision(db, batch_ids[1].upper())
    assert found is not None and found["decision_id"] == batch_ids[1] and found["query"] == batch[1]
    assert find_decision(db, ids.DecisionIds().one()) is None, "an id this server never gave"
    with pytest.raises(ValueError, match="not a decision id"):
        find_decision(db, "42")

    shown = subprocess.run([str(SCRIPT), "log", "--db", str(db), "--id", one["decision_id"], "--format", "json"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["decision_id"] == one["decision_id"]
    missing = subprocess.run([str(SCRIPT), "log", "--db", str(db), "--id", "01a23174-940d-7431-9be1-0dd173f4f0d1"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no decision 01a23174-940d-7431-9be1-0dd173f4f0d1" in missing.stderr
    assert_clean_log(srv)


# ---- a log written before decision ids -----------------------------------------------------------

def test_a_version_1_log_is_read_replayed_and_migrated(tmp_path, workdir):
    db = tmp_path / "old.sqlite3"
    policy = old_log(db, VERSION_1, Q)
    (row,) = query_log(db, LogFilter())
    assert row["query"] == Q and "decision_id" not in row  # read as it is: readers never write
    assert find_decision(db, "01a23174-940d-7431-9be1-0dd173f4f0d1") is None
    assert replay(db, policy, str(OPEN_E)).rows == 1

    srv = start(workdir, Path("policies/open_e.policy"), "--decision-log", str(db), "--decision-log-mode", "audit")
    try:
        with srv.client() as http:
            new_id = http.post("/v1/decide", json=Q, headers={"traceparent": TRACE}).json()["decision_id"]
    finally:
        srv.stop()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    old, new = query_log(db, LogFilter())
    assert old["decision_id"] is None and old["traceparent"] is None and old["latency_us"] == 3.5
    assert new["decision_id"] == new_id and new["traceparent"] == TRACE
    assert find_decision(db, new_id)["id"] == new["id"]  # type: ignore[index]
    assert replay(db, policy, str(OPEN_E)).rows == 2
    open_db(db).close()  # opening a migrated file again changes nothing
    assert [r["id"] for r in query_log(db, LogFilter())] == [old["id"], new["id"]]
    assert_clean_log(srv)



def test_the_random_pool_never_hands_out_the_same_bytes_twice():
    pool = ids.RandomPool(size=64)
    drawn = [pool.take(10) for _ in range(50)] + [pool.take(100)]  # crosses many refills, and one over the size
    assert [len(d) for d in drawn] == [10] * 50 + [100]
    assert len(set(drawn)) == len(drawn)
