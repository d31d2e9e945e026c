"""The laws of time limits, by property, against a plain reference interpreter written from the
semantics alone (no atoms, no logic): a limit `within D after F` holds at an instant when F began
less than D before it; `after D` when at least D before; an anchor time that is unknown may be any
time, so an allow that needs it applies only if it holds whatever it is, and a deny that needs it
applies if it holds for some (fail closed).

- closed world: the engine agrees with the reference at the instant asked about, rules cited too;
- `until` / `from`: the answer holds from `at` up to just before that instant and changes at it
  (every instant where a limit or a fact's start could change it is sampled, one second before and
  at it), and with none, it never changes;
- facts omitted: `requires` agrees with the closed-world answer on every fact set and every age of
  every anchor;
- diff: two timed policies differ in diff's report exactly where some question, facts and times
  answer differently.
"""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

import policy_engine
from policy_engine.guard.diff import semantic_diff
from policy_engine.language import ast, logic, timelimits
from policy_engine.language.printer import format_policy, format_rule

from properties.test_engine_laws import SLOW, _refs
from properties.strategies import conditions_over

AT = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
DURATIONS = [ast.Duration(count=1, unit="day"), ast.Duration(count=2, unit="week"), ast.Duration(count=1, unit="month"),
             ast.Duration(count=30, unit="day")]
FACTS = ["f0", "f1"]
VOCAB = {"data": ["d0", "d1"], "purpose": ["p0", "p1"], "fact": FACTS}
# ages that reach every side of every limit: 0, and one second before and at each length, and beyond
AGES = sorted({dt.timedelta(0), 400 * DAY} | {d.days * DAY - SECOND for d in DURATIONS} | {d.days * DAY for d in DURATIONS})


def rfc(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


# ---- the reference ----------------------------------------------------------------------


def _holds(cond: ast.Condition | None, held: frozenset[str]) -> bool:
    return logic.evaluate(cond, held)


def limit_holds(limit: ast.TimeLimit | None, held: frozenset[str], began: dict[str, dt.datetime], at: dt.datetime) -> bool:
    """`began`: the start of every held anchor and of collection (key `collected`)."""
    if limit is None:
        return True
    anchor = timelimits.COLLECTED if limit.anchor is None else limit.anchor.id
    if anchor != timelimits.COLLECTED and anchor not in held:
        return False
    inside = at - began[anchor] < limit.duration.days * DAY
    return inside if limit.form == "within" else not inside


def rule_holds(rule: ast.Rule, held: frozenset[str], began: dict[str, dt.datetime], at: dt.datetime) -> bool:
    return _holds(rule.condition, held) and limit_holds(rule.time, held, began, at)


def matching(rules: list[ast.Rule], q: dict) -> list[ast.Rule]:
    out = []
    for r in rules:
        if r.action != q["action"] or (r.data is not None and q["data"] not in [d.id for d in r.data]):
            continue
        if r.purposes and q["purpose"] not in [p.id for p in r.purposes]:
            continue
        out.append(r)
    return out


def possible_starts(q: dict, at: dt.datetime) -> tuple[frozenset[str], list[dict[str, dt.datetime]]]:
    """The facts held at `at`, and every assignment of start times the question leaves possible."""
    facts = q["facts"]
    listed = facts if isinstance(facts, list) else list(facts)
    known: dict[str, dt.datetime] = {}
    if isinstance(facts, dict):
        known = {f: dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for f, t in facts.items() if t is not True}
    held = frozenset(f for f in listed if f not in known or known[f] <= at)
    anchors = sorted(held) + [timelimits.COLLECTED]
    choices = []
    for a in anchors:
        if a == timelimits.COLLECTED and q.get("collected_at"):
            choices.append([dt.datetime.fromisoformat(q["collected_at"].replace("Z", "+00:00"))])
        elif a in known:
            choices.append([known[a]])
        else:
            choices.append([at - age for age in AGES])
    return held, [dict(zip(anchors, combo)) for combo in itertools.product(*choices)]


def reference(rules: list[ast.Rule], q: dict, at: dt.datetime) -> tuple[str, list[ast.Rule]]:
    held, worlds = possible_starts(q, at)
    m = matching(rules, q)
    denying = [r for r in m if r.effect == "deny" and any(rule_holds(r, held, w, at) for w in worlds)]
    if denying:
        return "deny", denying
    allowing = [r for r in m if r.effect == "allow" and all(rule_holds(r, held, w, at) for w in worlds)]
    return ("allow", allowing) if allowing else ("deny", [])


# ---- strategies -------------------------------------------------------------------------


@st.composite
def time_limits(draw):  # type: ignore[no-untyped-def]
    if draw(st.integers(0, 3)) == 0:
        return None
    anchor = draw(st.sampled_from([None, "f0", "f1"]))
    return ast.TimeLimit(form=draw(st.sampled_from(["within", "after"])), duration=draw(st.sampled_from(DURATIONS)),
                         anchor=None if anchor is None else ast.TermRef(id=anchor))


@st.composite
def timed_rules(draw):  # type: ignore[no-untyped-def]
    cond = draw(st.one_of(st.none(), conditions_over(FACTS, width=2, leaves=3)))
    limit = draw(time_limits())
    rule = ast.Rule(effect=draw(st.sampled_from(["allow", "allow", "deny"])), action="use",
                    data=None if draw(st.booleans()) else _refs([draw(st.sampled_from(VOCAB["data"]))]),
                    purposes=_refs(draw(st.lists(st.sampled_from(VOCAB["purpose"]), max_size=1))),
                    time=limit, condition=cond)
    full = timelimits.rule_condition(rule)
    if full is not None and not logic.satisfiable(ast.And(operands=(full, timelimits.care(logic.facts_of(full))))
                                                  if timelimits.care(logic.facts_of(full)) else full):
        rule = rule.model_copy(update={"condition": None})  # the checker rejects a rule that never holds
    return rule


@st.composite
def timed_queries(draw, all_known: bool = False):  # type: ignore[no-untyped-def]
    q: dict = {"action": "use", "data": draw(st.sampled_from(VOCAB["data"])),
               "purpose": draw(st.sampled_from(VOCAB["purpose"])), "at": rfc(AT)}
    ages = st.sampled_from(AGES + [-2 * DAY])  # a negative age: the fact begins after `at`
    listed = draw(st.lists(st.sampled_from(FACTS), unique=True))
    if all_known or draw(st.booleans()):
        q["facts"] = {f: rfc(AT - draw(ages)) if all_known or draw(st.booleans()) else True for f in listed}
    else:
        q["facts"] = listed
    if all_known or draw(st.booleans()):
        q["collected_at"] = rfc(AT - draw(st.sampled_from(AGES)))
    return q


def policy_text(rule_list: list[ast.Rule]) -> str:
    terms = tuple(ast.TermDecl(kind=k, id=i, label=f"{k} {i}") for k, ids in VOCAB.items() for i in ids)
    return format_policy(ast.PolicyFile(meta=ast.Metadata(name="Timed"), terms=terms,
                                        sections=(ast.Section(title="S0", items=tuple(rule_list)),)))


def _texts(rules: list[ast.Rule]) -> list[str]:
    return sorted(format_rule(r) for r in rules)


# ---- the laws ---------------------------------------------------------------------------


@SLOW
@given(st.lists(timed_rules(), max_size=5), st.lists(timed_queries(), min_size=1, max_size=4))
def test_engine_agrees_with_the_reference_at_the_instant(rule_list, qs) -> None:  # type: ignore[no-untyped-def]
    policy = policy_engine.loads(policy_text(rule_list), "timed.policy")
    for q in qs:
        got = policy.decide(q)
        want, cited = reference(rule_list, q, AT)
        assert got.decision == want, q
        assert sorted(r.rule for r in got.reasons) == _texts(cited), q


def _boundaries(q: dict, rule_list: list[ast.Rule]) -> list[dt.datetime]:
    starts = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in q["facts"].values() if t is not True]
    if q.get("collected_at"):
        starts.append(dt.datetime.fromisoformat(q["collected_at"].replace("Z", "+00:00")))
    lengths = {r.time.duration.days * DAY for r in rule_list if r.time is not None}
    points = {t + d for t in starts for d in lengths} | set(starts)
    return sorted(p for p in points if p > AT)


@SLOW
@given(st.lists(timed_rules(), min_size=1, max_size=5), st.lists(timed_queries(all_known=True), min_size=1, max_size=4))
def test_until_and_from_are_the_first_instant_the_answer_changes(rule_list, qs) -> None:  # type: ignore[no-untyped-def]
    policy = policy_engine.loads(policy_text(rule_list), "timed.policy")
    for q in qs:
        got = policy.decide(q)
        mark = got.until if got.decision == "allow" else got.from_
        if got.decision == "allow":
            assert got.from_ is None
        else:
            assert got.until is None
        changes = None if mark is None else dt.datetime.fromisoformat(mark.replace("Z", "+00:00"))
        allowed_now = got.decision == "allow"
        for point in _boundaries(q, rule_list):
            for instant in (point - SECOND, point):
                if instant <= AT:
                    continue
                later = reference(rule_list, q, instant)[0] == "allow"
                assert policy.decide({**q, "at": rfc(instant)}).decision == ("allow" if later else "deny")
                if changes is None or instant < changes:
                    assert later == allowed_now, (q, instant, mark)
        if changes is not None:
            assert changes > AT
            assert (reference(rule_list, q, changes)[0] == "allow") != allowed_now, (q, mark)
            assert reference(rule_list, q, changes - SECOND)[0] == got.decision, (q, mark)


def _evaluate(cond: ast.Condition, held: frozenset[str], began: dict[str, dt.datetime]) -> bool:
    true = set(held)
    for name in logic.facts_of(cond):
        read = timelimits.read_atom(name)
        if read is not None:
            anchor, d = read
            if (anchor == timelimits.COLLECTED or anchor in held) and AT - began[anchor] < d.days * DAY:
                true.add(name)
    return logic.evaluate(cond, true)


@SLOW
@given(st.lists(timed_rules(), max_size=5), st.lists(timed_queries(), min_size=1, max_size=3))
def test_requires_is_exact_over_every_fact_set_and_every_age(rule_list, qs) -> None:  # type: ignore[no-untyped-def]
    policy = policy_engine.loads(policy_text(rule_list), "timed.policy")
    for q in qs:
        partial = policy.decide({k: v for k, v in q.items() if k != "facts"})
        for n in range(len(FACTS) + 1):
            for world in itertools.combinations(FACTS, n):
                for ages in itertools.product(AGES, repeat=len(world)):
                    closed_q = {**q, "facts": {f: rfc(AT - a) for f, a in zip(world, ages)}}
                    closed = policy.decide(closed_q)
                    assert closed.decision == reference(rule_list, closed_q, AT)[0]
                    if partial.decision == "conditional":
                        began = {f: AT - a for f, a in zip(world, ages)}
                        collected = q.get("collected_at")
                        for c_age in ([None] if collected else AGES):
                            began[timelimits.COLLECTED] = (dt.datetime.fromisoformat(collected.replace("Z", "+00:00"))
                                                           if collected else AT - c_age)
                            if not collected:
                                closed = policy.decide({**closed_q, "collected_at": rfc(began[timelimits.COLLECTED])})
                            cond = logic.parse_condition(partial.requires)
                            assert _evaluate(cond, frozenset(world), began) == (closed.decision == "allow"), \
                                (q, world, ages, partial.requires)
                    elif q.get("collected_at") or not any(r.time and r.time.anchor is None for r in rule_list):
                        assert closed.decision == partial.decision, (q, world, ages)


@SLOW
@given(st.lists(timed_rules(), max_size=4), st.lists(timed_rules(), max_size=4))
def test_diff_is_exact_with_time_limits(before, after) -> None:  # type: ignore[no-untyped-def]
    old = policy_engine.loads(policy_text(before), "before.policy")
    new = policy_engine.loads(policy_text(after), "after.policy")
    report = semantic_diff(old, new)
    differs = False
    for data in VOCAB["data"]:
        for purpose in VOCAB["purpose"]:
            for n in range(len(FACTS) + 1):
                for world in itertools.combinations(FACTS, n):
                    for ages in itertools.product(AGES, repeat=len(world) + 1):
                        q = {"action": "use", "data": data, "purpose": purpose, "at": rfc(AT),
                             "facts": {f: rfc(AT - a) for f, a in zip(world, ages)}, "collected_at": rfc(AT - ages[-1])}
                        if reference(before, q, AT)[0] != reference(after, q, AT)[0]:
                            differs = True
                            break
                    if differs:
                        break
                if differs:
                    break
    assert bool(report.groups) == differs, (before, after)
