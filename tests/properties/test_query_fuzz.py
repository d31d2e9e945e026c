"""Fuzzing the query front end: any JSON text, valid or not, nested or not, is answered or
refused with a QueryError; never another exception, and a batch answers every line.

Inputs: random JSON values (objects, lists, scalars, deep nesting), mutated texts of valid
queries over the open_e vocabulary (deleted, duplicated, inserted bytes; invalid UTF-8; brackets
repeated thousands of times), and valid queries with random field values.
"""

from __future__ import annotations

import io
import json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import QueryError, api
from policy_engine.cli.decide import _decide_batch

from paths import OPEN_E
POLICY = policy_engine.load(OPEN_E)
VOCAB = {kind: [t["id"] for t in terms] for kind, terms in POLICY.vocabulary().items()}
FIELDS = ("action", "data", "source", "purpose", "recipient", "facts")
SLOW = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6),
                                                                inner, max_size=6),
    max_leaves=20,
)


@st.composite
def valid_queries(draw: st.DrawFn) -> dict:
    q: dict = {"action": draw(st.sampled_from(["collect", "use", "share", "retain"])),
               "data": draw(st.sampled_from(VOCAB["data"]))}
    for dim in ("source", "purpose", "recipient"):
        if draw(st.booleans()):
            q[dim] = draw(st.sampled_from(VOCAB[dim]))
    if draw(st.booleans()):
        q["facts"] = draw(st.lists(st.sampled_from(VOCAB["fact"]), unique=True))
    return q


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    data = json.dumps(draw(valid_queries())).encode()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "nest"]))
        size = draw(st.integers(1, 8))
        if kind == "delete":
            data = data[:at] + data[at + size:]
        elif kind == "duplicate":
            data = data[:at] + data[at:at + size] + data[at:]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=6) | st.sampled_from(
                [b'"', b"{", b"[", b"]", b"}", b",", b":", b"\\u0000", b"\xff", b"null", b"1e999"])) + data[at:]
        else:
            depth = draw(st.sampled_from([10, 300, 5_000, 100_000]))
            data = data[:at] + draw(st.sampled_from([b"[", b'{"a":'])) * depth + data[at:]
    return data


def _answer_or_refuse(text: str | bytes) -> None:
    try:
        query = api.parse_json(text)
        answer = POLICY.decide(query)
    except QueryError as err:
        assert err.code.startswith("query."), err.code
        json.dumps(err.to_dict())
        return
    assert answer.decision in ("allow", "deny", "conditional")
    assert (answer.requires is not None) == (answer.decision == "conditional")
    json.loads(answer.to_json())


@SLOW
@given(json_values)
def test_any_json_value_is_answered_or_refused(value: object) -> None:
    _answer_or_refuse(json.dumps(value))


@SLOW
@given(mutated_texts())
def test_mutated_query_texts_are_answered_or_refused(data: bytes) -> None:
    _answer_or_refuse(data)


@SLOW
@given(valid_queries())
def test_valid_queries_are_answered(q: dict) -> None:
    needed = {"collect": "source", "use": "purpose", "share": "recipient"}.get(q["action"])
    try:
        answer = POLICY.decide(q)
    except QueryError as err:
        assert needed is not None and needed not in q and err.code == "query.missing_dimension", (q, err.code)
        return
    assert answer.decision in ("allow", "deny", "conditional")


@SLOW
@given(st.lists(mutated_texts() | valid_queries().map(lambda q: json.dumps(q).encode()), min_size=1, max_size=5))
def test_a_batch_answers_every_line(lines: list[bytes]) -> None:
    texts = [line.decode("utf-8", errors="replace").replace("\n", " ").replace("\r", " ") for line in lines]
    out = io.StringIO()
    import sys

    saved, sys.stdout = sys.stdout, out
    saved_err, sys.stderr = sys.stderr, io.StringIO()
    try:
        _decide_batch(POLICY, io.StringIO("".join(t + "\n" for t in texts)))
    finally:
        sys.stdout, sys.stderr = saved, saved_err
    answers = out.getvalue().splitlines()
    assert len(answers) == len(texts)
    for a in answers:
        parsed = json.loads(a)
        assert "decision" in parsed or parsed["error"]["code"].startswith("query.")
