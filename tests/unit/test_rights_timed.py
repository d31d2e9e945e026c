"""Rights whose condition carries a time limit (engine/rights_timed.py), on the documented example
(docs/examples/retention.policy: `right delete if account_closed less than 30 days ago`): decided
exactly when the fact's time is known, with `until` / `from`; not granted when it is unknown (fail
closed); conditional with the facts omitted; and the errors of a badly written time."""

from __future__ import annotations

import pytest

from policy_engine import api
from policy_engine.engine.query import QueryError

from paths import REPO

AT = "2026-03-20T12:00:00Z"


@pytest.fixture(scope="module")
def retention() -> api.Policy:
    return api.load(REPO / "docs" / "examples" / "retention.policy")


def ask(policy: api.Policy, facts: object, at: str | None = AT) -> dict:
    q: dict = {"right": "delete", "facts": facts}
    if at is not None:
        q["at"] = at
    return policy.rights(q).to_dict()


def test_a_known_time_decides_the_limit_and_says_until_when(retention) -> None:  # type: ignore[no-untyped-def]
    answer = ask(retention, {"account_closed": "2026-03-01T00:00:00Z"})
    assert answer["decision"] == "allow" and answer["until"] == "2026-03-31T00:00:00Z"
    assert answer["channels"] == ["privacy@example.com"] and answer["deadline"] == "P30D"
    assert [r["line"] for r in answer["reasons"]] == [38]
    assert "from" not in answer


def test_too_late_is_denied_and_a_fact_that_begins_later_says_from_when(retention) -> None:  # type: ignore[no-untyped-def]
    late = ask(retention, {"account_closed": "2026-01-01T00:00:00Z"})
    assert late["decision"] == "deny" and "until" not in late and "from" not in late and late["reasons"] == []
    later = ask(retention, {"account_closed": "2026-04-01T00:00:00Z"})  # not closed yet at `at`
    assert later["decision"] == "deny" and later["from"] == "2026-04-01T00:00:00Z"


def test_a_fact_listed_without_its_time_does_not_grant_a_timed_right(retention) -> None:  # type: ignore[no-untyped-def]
    for facts in (["account_closed"], {"account_closed": True}):
        answer = ask(retention, facts)
        assert answer["decision"] == "deny" and answer["reasons"] == [] and "from" not in answer, facts
    assert ask(retention, [])["decision"] == "deny"


def test_facts_omitted_the_limit_is_what_it_requires(retention) -> None:  # type: ignore[no-untyped-def]
    answer = ask(retention, None)
    assert answer["decision"] == "conditional" and answer["requires"] == "account_closed less than 30 days ago"


def test_at_defaults_to_now(retention) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    yesterday = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()
    assert ask(retention, {"account_closed": yesterday}, at=None)["decision"] == "allow"


@pytest.mark.parametrize("question, code, field, words", [
    ({"right": "delete", "at": "2026-03-20"}, "query.invalid_time", "at", "a date alone is not an instant"),
    ({"right": "delete", "at": 20}, "query.wrong_type", "at", "RFC 3339"),
    ({"right": "delete", "facts": {"account_closed": False}}, "query.wrong_type", "facts.account_closed",
     "leave out a fact that does not hold"),
    ({"right": "delete", "facts": {"account_closd": True}}, "query.unknown_term", "facts", "account_closd"),
    ({"right": "delete", "facts": "account_closed"}, "query.wrong_type", "facts", "an object of fact"),
    ({"right": "delete", "collected_at": AT}, "query.unknown_field", "collected_at", "right, facts, at"),
])
def test_a_badly_written_time_is_an_error_that_names_the_field(retention, question, code, field, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as err:
        retention.rights(question)
    assert (err.value.code, err.value.field) == (code, field)
    assert words in err.value.message
