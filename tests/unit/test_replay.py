"""guard/replay.py: a decision log written by the server's own writer, replayed under edits of
the Open-E policy. The expected counts come from the engine itself, asked again in a closed
world for every fact set (docs/semantics.md: a `requires` evaluated under a fact set equals the closed-world
answer), not from the replay's own comparison."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from policy_engine import api
from policy_engine.guard.replay import LogError, compare, Answer, replay
from policy_engine.guard.replay_report import render_markdown, render_text, to_dict
from policy_engine.server.decision_log import SqliteDecisionLog
from policy_engine.server.encode import Encoder

REPO = Path(__file__).resolve().parents[2]
OPEN_E = (REPO / "policies" / "open_e.policy").read_text(encoding="utf-8")
PARTNER = "    with business_partner\n    if partner_inquiry\n"
# Questions a service asks, each logged `times` times.
TRAFFIC = [
    ({"action": "share", "data": "email", "recipient": "business_partner", "facts": []}, 40),
    ({"action": "share", "data": "phone", "recipient": "business_partner"}, 25),
    ({"action": "share", "data": "name", "recipient": "business_partner", "facts": ["partner_inquiry"]}, 10),
    ({"action": "use", "data": "email", "source": "contact", "purpose": "marketing", "facts": ["newsletter_form"]}, 30),
    ({"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}, 20),
    ({"action": "use", "data": "name", "source": "purchase", "purpose": "identity_verification", "facts": []}, 15),
    ({"action": "collect", "data": "email", "source": "forum", "facts": []}, 5),
]


def write_log(path: Path, policy: api.Policy, traffic=TRAFFIC) -> int:
    encode = Encoder()
    sink = SqliteDecisionLog(path, batch_size=16, flush_interval=0.01).start()
    for query, times in traffic:
        for _ in range(times):
            sink.record(query, encode(policy.decide(query)), 0.00002)
    sink.close()
    assert sink.flushed == sum(t for _, t in traffic)
    return sink.flushed


def _allowed(policy: api.Policy, query: dict, facts: tuple[str, ...]) -> bool:
    return policy.decide({**query, "facts": list(facts)}).decision == "allow"


def oracle(old: api.Policy, new: api.Policy, traffic=TRAFFIC) -> tuple[int, int]:
    """(widened rows, narrowed rows), asking both policies every closed world."""
    facts = [t["id"] for t in old.vocabulary()["fact"]]
    widened = narrowed = 0
    for query, times in traffic:
        worlds = [tuple(query["facts"])] if query.get("facts") is not None else [
            combo for n in range(len(facts) + 1) for combo in itertools.combinations(facts, n)]
        pairs = [(_allowed(old, query, w), _allowed(new, query, w)) for w in worlds]
        widened += times * any(a and not b for b, a in pairs)
        narrowed += times * any(b and not a for b, a in pairs)
    return widened, narrowed


@pytest.fixture(scope="module")
def old() -> api.Policy:
    return api.loads(OPEN_E, "policies/open_e.policy")


@pytest.fixture
def log(tmp_path, old) -> Path:
    path = tmp_path / "decisions.sqlite3"
    write_log(path, old)
    return path


def test_an_unchanged_policy_changes_no_logged_answer(log, old):
    result = replay(log, old, "policies/open_e.policy")
    assert result.rows == sum(t for _, t in TRAFFIC) and result.questions == len(TRAFFIC)
    assert (result.changed, result.widened, result.narrowed, result.groups) == (0, 0, 0, [])
    assert "No logged decision would be answered differently." in render_text(result)


def test_a_widening_edit_counts_the_rows_the_engine_now_allows(log, old):
    assert PARTNER in OPEN_E
    new = api.loads(OPEN_E.replace(PARTNER, "    with business_partner\n"), "policies/open_e.policy")
    result = replay(log, new, "policies/open_e.policy")
    want_widened, want_narrowed = oracle(old, new)
    assert want_widened > 0
    assert (result.widened, result.narrowed) == (want_widened, want_narrowed)
    assert result.changed == want_widened
    assert result.share == pytest.approx(result.changed / result.rows, abs=1e-6)
    [group] = result.groups
    assert group.mark == "widened" and group.now and group.rows == want_widened
    [rule] = group.rules  # the rule that allows it now, where it is in the new policy
    assert rule.effect == "allow" and "business_partner" in rule.rule and rule.section == \
        "Disclosure of Personal Information"
    assert OPEN_E.replace(PARTNER, "    with business_partner\n").splitlines()[rule.line - 1].startswith("  allow share")
    rows = [e.rows for e in group.examples]
    assert rows == sorted(rows, reverse=True) and len(rows) <= 3
    assert group.examples[0].before.decision == "deny" and group.examples[0].after.decision == "allow"
    assert result.sections() == {"Disclosure of Personal Information": {"widened": want_widened, "narrowed": 0}}
    text = render_text(result)
    assert f"{want_widened} decisions" in text and "WIDENED" in text and "review it" in text
    assert "| widened |" in render_markdown(result)
    assert to_dict(result)["findings"][0]["decisions"] == want_widened


def test_a_narrowing_edit_is_named_by_the_old_rules_when_nothing_decides_now(log, old):
    edited = OPEN_E.replace("  allow share of email, name, postal_address, phone\n" + PARTNER + "    basis contract\n",
                            "", 1)
    edited = edited.replace("  expect conditional: share of email with business_partner\n"
                            "    requires partner_inquiry\n", "").replace(
        "  expect allow: share of email with business_partner given partner_inquiry\n", "")
    assert edited != OPEN_E
    new = api.loads(edited, "policies/open_e.policy")
    result = replay(log, new, "policies/open_e.policy")
    want = oracle(old, new)
    assert (result.widened, result.narrowed) == want and want[0] == 0 and want[1] > 0
    assert all(g.mark == "narrowed" and not g.now for g in result.groups)
    assert {r.section for g in result.groups for r in g.rules} == {"Disclosure of Personal Information"}
    assert "no rule decides them now" in render_text(result)


def test_since_replays_only_the_newer_rows(tmp_path, old):
    path = tmp_path / "decisions.sqlite3"
    write_log(path, old, TRAFFIC[:2])
    with sqlite3.connect(path) as conn:  # the first rows happened ten days ago
        conn.execute("UPDATE decisions SET ts = ts - 10 * 86400")
    conn.close()
    write_log(path, old, TRAFFIC[2:])
    new = api.loads(OPEN_E.replace(PARTNER, "    with business_partner\n"), "p.policy")
    everything = replay(path, new, "p.policy")
    recent = replay(path, new, "p.policy", since=everything.last_ts - 5 * 86400)
    assert everything.rows == sum(t for _, t in TRAFFIC)
    assert recent.rows == sum(t for _, t in TRAFFIC[2:])
    assert (recent.widened, recent.narrowed) == oracle(old, new, TRAFFIC[2:])


def test_a_question_the_new_policy_cannot_ask_is_counted_apart(log, old):
    renamed = OPEN_E.replace("recipient business_partner ", "recipient partner ").replace("business_partner", "partner")
    new = api.loads(renamed, "p.policy")
    result = replay(log, new, "p.policy")
    assert result.unanswerable_rows == sum(t for q, t in TRAFFIC if q.get("recipient") == "business_partner")
    assert all("query.unknown_term" in u.error and "business_partner" in u.error for u in result.unanswerable)
    assert "Cannot be asked under the new policy" in render_text(result)


def test_the_log_is_opened_read_only_and_never_changed(log, old):
    before = hashlib.sha256(log.read_bytes()).hexdigest()
    replay(log, api.loads(OPEN_E.replace(PARTNER, "    with business_partner\n"), "p"), "p")
    assert hashlib.sha256(log.read_bytes()).hexdigest() == before


def test_a_missing_file_or_another_database_is_a_clear_error(tmp_path, old):
    with pytest.raises(LogError, match="no decision log at"):
        replay(tmp_path / "nope.sqlite3", old, "p")
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(LogError, match="not a decision log: it has no table answers, decisions"):
        replay(other, old, "p")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(LogError, match="cannot read"):
        replay(garbage, old, "p")
    assert not (tmp_path / "nope.sqlite3").exists()


def test_compare_agrees_with_every_closed_world():
    cases = [("deny", None, lambda w: False), ("allow", None, lambda w: True),
             ("conditional", "a", lambda w: "a" in w), ("conditional", "a or b", lambda w: bool(w)),
             ("conditional", "a and not b", lambda w: w == {"a"}), ("conditional", "b", lambda w: "b" in w)]
    worlds = [set(w) for n in range(3) for w in itertools.combinations("ab", n)]
    for (d1, r1, h1), (d2, r2, h2) in itertools.product(cases, repeat=2):
        pairs = [(h1(w), h2(w)) for w in worlds]
        want = (any(a and not b for b, a in pairs), any(b and not a for b, a in pairs))
        got = compare(Answer(d1, r1), Answer(d2, r2))
        assert got == (None if want == (False, False) else want), (r1, r2)


def test_the_json_part_names_every_count(log, old):
    new = api.loads(OPEN_E.replace(PARTNER, "    with business_partner\n"), "p")
    d = to_dict(replay(log, new, "p"))
    assert {"decisions", "questions", "changed", "widened", "narrowed", "share", "sections", "findings"} <= d.keys()
    json.dumps(d)
