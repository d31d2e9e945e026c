"""The engine through its public API: load, decide, decide_many, answers, errors, immutability."""

from __future__ import annotations

import hashlib
import threading

import pytest

import policy_engine
from policy_engine import Decision, Policy, PolicyError, Query, QueryError

from paths import OPEN_E, REPO, SMALL, line_of

# The rules of tests/fixtures/small.policy these tests name, and where they stand.
CONSENT = "allow use of email from contact for marketing if consent basis consent"
WITHDRAWN = "deny use of email for marketing if withdrawn"
FORUM = "deny use of email from forum for marketing"
CONSENT_LINE, WITHDRAWN_LINE, FORUM_LINE = (line_of(SMALL, rule) for rule in (CONSENT, WITHDRAWN, FORUM))


def q(**kw):  # type: ignore[no-untyped-def]
    return {"action": "use", "data": "email", **kw}


# ---- loading ------------------------------------------------------------------------------


def test_load_gives_name_digest_counts_and_terms(open_e: Policy) -> None:
    assert open_e.name == "Open-E Privacy Policy"
    assert open_e.digest == "sha256:" + hashlib.sha256(OPEN_E.read_bytes()).hexdigest()
    assert open_e.path.endswith("open_e.policy")
    assert open_e.rule_count == sum(1 for line in OPEN_E.read_text().splitlines()
                                    if line.strip().startswith(("allow ", "deny ")))
    assert open_e.term_counts["data"] == len(open_e.terms["data"]) >= 10
    term = open_e.terms["purpose"]["marketing.newsletter"]
    assert (term.kind, term.id, term.parent) == ("purpose", "marketing.newsletter", "marketing")
    assert open_e.vocabulary()["fact"][0].keys() == {"kind", "id", "label", "parent"}
    assert open_e.metadata["contact"] == "privacy@open-e.com"


def test_loads_digest_is_of_the_text(small: Policy, small_text: str) -> None:
    assert small.digest == "sha256:" + hashlib.sha256(small_text.encode()).hexdigest()
    assert small.path == "small.policy" and small.rule_count == 8


def test_a_policy_with_errors_raises_policy_error_with_diagnostics() -> None:
    with pytest.raises(PolicyError) as info:
        policy_engine.loads('policy "X"\nsection "S":\n  allow use of email for marketting\n')
    assert {d.code for d in info.value.diagnostics} == {"check.unknown_term"}
    with pytest.raises(PolicyError) as info:
        policy_engine.load(REPO / "no" / "such.policy")
    assert info.value.code == "source.not_found"


def test_policy_is_immutable(small: Policy) -> None:
    with pytest.raises(AttributeError):
        small.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del small.digest
    with pytest.raises(TypeError):
        small.term_counts["data"] = 0  # type: ignore[index]


# ---- decisions ------------------------------------------------------------------------------


def test_answer_json_is_exactly_the_spec_shape(small: Policy) -> None:
    d = small.decide(q(source="contact", purpose="marketing"))
    assert d.model_dump(mode="json", exclude_none=True) == {
        "decision": "conditional",
        "requires": "consent and not withdrawn",
        "reasons": [
            {"effect": "allow", "rule": CONSENT, "file": "small.policy", "line": CONSENT_LINE,
             "section": "Marketing", "basis": "consent"},
            {"effect": "deny", "rule": WITHDRAWN, "file": "small.policy", "line": WITHDRAWN_LINE,
             "section": "Marketing", "basis": None},
        ],
        "policy": {"name": "Small", "digest": small.digest},
    }
    assert d.to_dict() == d.model_dump(mode="json", exclude_none=True)
    assert Decision.model_validate_json(d.to_json()) == d
    schema = Decision.model_json_schema(mode="serialization")["$defs"]["Reason"]  # what the server documents
    assert set(schema["required"]) == {"effect", "rule", "file", "line", "section", "basis"}


def test_closed_world_decisions_and_would_allow_if(small: Policy) -> None:
    allow = small.decide(q(source="contact", purpose="marketing.newsletter", facts=["consent"]))
    assert allow.decision == "allow" and [r.line for r in allow.reasons] == [CONSENT_LINE]
    assert allow.requires is None and allow.would_allow_if is None
    default = small.decide(q(source="contact", purpose="marketing", facts=[]))
    assert default.decision == "deny" and default.reasons == ()  # a default deny cites nothing
    assert default.would_allow_if == "consent and not withdrawn"
    by_rule = small.decide(q(source="contact", purpose="marketing", facts=["consent", "withdrawn"]))
    assert by_rule.decision == "deny" and [r.line for r in by_rule.reasons] == [WITHDRAWN_LINE]
    assert by_rule.would_allow_if == "consent and not withdrawn"
    never = small.decide(q(source="forum", purpose="marketing", facts=["consent"]))
    assert never.decision == "deny" and never.would_allow_if is None  # no allow could lift it
    nothing = small.decide(q(source="contact", purpose="support", facts=[]))
    assert nothing.decision == "allow" and nothing.would_allow_if is None


def test_partial_evaluation_collapses_constants(small: Policy) -> None:
    assert small.decide(q(purpose="support")).decision == "allow"
    forum = small.decide(q(source="forum", purpose="marketing"))
    assert forum.decision == "deny" and [r.line for r in forum.reasons] == [FORUM_LINE]  # unconditional deny cited
    unknown_source = small.decide(q(purpose="marketing"))
    assert unknown_source.decision == "deny"  # fail closed: the forum deny applies, the allow cannot
    assert [r.line for r in unknown_source.reasons] == [FORUM_LINE]


def test_hierarchy_children_are_covered_parents_are_not(small: Policy) -> None:
    assert small.decide({"action": "share", "data": "cookie.analytics", "recipient": "partner"}).decision == "allow"
    assert small.decide({"action": "share", "data": "email", "recipient": "partner"}).decision == "deny"


def test_open_e_spec_example(open_e: Policy) -> None:
    d = open_e.decide({"action": "use", "data": "email", "source": "contact", "purpose": "marketing"})
    assert d.decision == "conditional" and d.requires == "newsletter_form or notification_settings"
    d = open_e.decide({"action": "use", "data": "email", "source": "contact", "purpose": "marketing", "facts": []})
    assert d.decision == "deny" and d.would_allow_if == "newsletter_form or notification_settings"
    d = open_e.decide({"action": "use", "data": "email", "source": "forum", "purpose": "marketing",
                       "recipient": None, "facts": ["newsletter_form"]})
    assert d.decision == "deny" and d.reasons[0].section == "Open-E Forum / Using your Personal Information"


def test_query_model_dict_and_many_agree(small: Policy) -> None:
    raw = q(source="contact", purpose="marketing", facts=["consent"])
    assert small.decide(Query(**raw)) == small.decide(raw) == small.decide(dict(raw))
    batch = [raw, q(purpose="support"), Query(**q(source="forum", purpose="marketing"))]
    assert small.decide_many(batch) == [small.decide(x) for x in batch]
    assert small.decide_many(iter(batch)) == small.decide_many(batch)
    assert small.decide_many([]) == []


def test_fact_order_and_duplicates_do_not_matter(small: Policy) -> None:
    a = small.decide(q(source="contact", purpose="marketing", facts=["consent", "withdrawn"]))
    b = small.decide(q(source="contact", purpose="marketing", facts=["withdrawn", "consent", "consent"]))
    assert a == b


def test_repeated_questions_share_one_immutable_answer(small: Policy) -> None:
    first = small.decide(q(purpose="support", facts=[]))
    assert small.decide(q(purpose="support", facts=[])) is first
    with pytest.raises(Exception):
        first.decision = "allow"  # type: ignore[misc]


def test_decisions_are_thread_safe(open_e: Policy) -> None:
    queries = [{"action": "use", "data": d, "source": s, "purpose": p, **({"facts": f} if f is not None else {})}
               for d in ("email", "name", "post") for s in ("contact", "forum", "blog")
               for p in ("marketing", "publishing", "marketing.newsletter") for f in (None, [], ["newsletter_form"])]
    fresh = policy_engine.load(OPEN_E)
    want = [open_e.decide(x) for x in queries]
    results: list[list[Decision]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(fresh.decide_many(queries))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == want for r in results) and len(results) == 80


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query, code, field", [
    ([1, 2], "query.wrong_type", None),
    ({"action": "use", "data": "email", "purpose": "support", "colour": "red"}, "query.unknown_field", "colour"),
    ({"data": "email", "purpose": "support"}, "query.missing_field", "action"),
    ({"action": "use", "purpose": "support"}, "query.missing_field", "data"),
    ({"action": "use", "data": "email", "purpose": None}, "query.missing_dimension", "purpose"),
    ({"action": "collect", "data": "email"}, "query.missing_dimension", "source"),
    ({"action": "share", "data": "email", "purpose": "support"}, "query.missing_dimension", "recipient"),
    ({"action": "sell", "data": "email"}, "query.unknown_action", "action"),
    ({"action": 3, "data": "email"}, "query.wrong_type", "action"),
    ({"action": "use", "data": ["email"], "purpose": "support"}, "query.wrong_type", "data"),
    ({"action": "use", "data": "email", "purpose": "support", "facts": "consent"}, "query.wrong_type", "facts"),
    ({"action": "use", "data": "email", "purpose": "support", "facts": [["consent"]]}, "query.wrong_type", "facts"),
    ({"action": "use", "data": "emial", "purpose": "support"}, "query.unknown_term", "data"),
    ({"action": "use", "data": "email", "purpose": "marketting"}, "query.unknown_term", "purpose"),
    ({"action": "use", "data": "email", "purpose": "contact"}, "query.unknown_term", "purpose"),
    ({"action": "use", "data": "email", "purpose": "support", "facts": ["concent"]}, "query.unknown_term", "facts"),
])
def test_bad_queries_raise_query_error_never_deny(small: Policy, query, code, field) -> None:  # type: ignore[no-untyped-def]
    for attempt in range(2):  # the second time through the warm fast path
        with pytest.raises(QueryError) as info:
            small.decide(query)
        err = info.value
        assert (err.code, err.field) == (code, field)
        assert isinstance(err, PolicyError) and err.message
        assert err.to_dict() == {"error": {"code": code, "message": err.message, "field": field,
                                           "suggestions": err.suggestions}}


def test_unknown_terms_suggest_the_nearest(small: Policy) -> None:
    with pytest.raises(QueryError) as info:
        small.decide(q(purpose="marketting"))
    assert info.value.suggestions[0] == "marketing" and "marketting" in info.value.message
    with pytest.raises(QueryError) as info:
        small.decide(q(purpose="contact"))
    assert "`contact` is a source, not a purpose" in info.value.message
    with pytest.raises(QueryError) as info:
        small.decide(q(purpose="support", facts=["concent"]))
    assert info.value.suggestions == ["consent"]
    with pytest.raises(QueryError) as info:
        small.decide({"action": "use", "data": "email", "purposes": "support"})
    assert info.value.code == "query.unknown_field" and info.value.suggestions == ["purpose"]
    with pytest.raises(QueryError) as info:
        small.decide({"action": "uze", "data": "email"})
    assert info.value.suggestions == ["use"]


def test_decide_many_names_the_bad_query(small: Policy) -> None:
    with pytest.raises(QueryError) as info:
        small.decide_many([q(purpose="support"), q(purpose="nope")])
    assert info.value.index == 1  # type: ignore[attr-defined]


def test_invalid_json_is_a_query_error() -> None:
    from policy_engine.engine.query import parse_json

    with pytest.raises(QueryError) as info:
        parse_json("{not json")
    assert info.value.code == "query.invalid_json"


def test_query_model_forbids_extra_fields() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Query(action="use", data="email", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Query(action="sell", data="email")  # type: ignore[arg-type]


# ---- explain -------------------------------------------------------------------------------------


def test_explain_speaks_in_sentences(small: Policy) -> None:
    text = small.explain(q(source="contact", purpose="marketing", facts=[]))
    assert "use of email from contact for marketing given nothing" in text
    assert "denied by default" in text and "It would be allowed if consent and not withdrawn." in text
    assert f"small.policy:{CONSENT_LINE}" in text  # the allow that would lift it
    text = small.explain(q(source="contact", purpose="marketing"))
    assert "allowed only if consent and not withdrawn" in text and f"small.policy:{WITHDRAWN_LINE}" in text


def test_a_query_error_reads_as_one_line_without_a_compiler_prefix(small: Policy) -> None:
    with pytest.raises(QueryError) as caught:
        small.decide(q(purpose="marketting"))
    assert str(caught.value) == ("query.unknown_term: unknown purpose `marketting` (did you mean "
                                 "`marketing` or `marketing.offers` or `marketing.newsletter`?)")
    rebuilt = QueryError(caught.value.code, caught.value.message, caught.value.field, caught.value.suggestions)
    assert str(rebuilt) == str(caught.value)  # as the HTTP client raises it
