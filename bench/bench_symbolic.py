"""Bounded work per question on many-fact policies: decisions per second, cold and warm.

    .venv/bin/python bench/bench_symbolic.py [--policies N] [--facts F] [--rules R] [--seed S]
    .venv/bin/python bench/bench_symbolic.py --policy FILE --query JSON   # one policy, one question

Generated policies are shaped like the 18-fact reproducer of issue 15: R rules on the same
question, each condition a disjunction of 6-13 three-fact conjunctions, some negated, over F
facts, so `A and not D` is past the truth-table limit and goes through the BDDs. Reported:
cold = the first partial (facts unknown) decision of each question of a freshly loaded policy
(the requirement is computed: the bounded work), warm = the same question again (memoised),
closed = closed-world decisions with random fact sets. Times are per decision, p50 and max,
and decisions per second over the whole set.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import policy_engine  # noqa: E402
from policy_engine.language import bdd  # noqa: E402

QUERY = {"action": "collect", "data": "loc", "source": "phone0.stat"}


def generate(facts: int, rules: int, rng: random.Random) -> str:
    names = [f"f{i}" for i in range(facts)]
    out = ['data loc "Location"', 'source phone0 "Phone"', 'source phone0.stat "Statistics"']
    out += [f'fact {n} "{n}"' for n in names]
    out.append('section "S":')
    for r in range(rules):
        effect = "deny" if r % 3 == 2 else "allow"
        terms = []
        for _ in range(rng.randint(6, 13)):
            lits = [("not " if rng.random() < 0.2 else "") + n for n in rng.sample(names, 3)]
            terms.append("(" + " and ".join(lits) + ")")
        cond = " or ".join(terms)
        if rng.random() < 0.2:
            cond = f"not ({cond})"
        out.append(f"  {effect} collect of loc from phone0.stat if {cond}")
    return "\n".join(out) + "\n"


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def row(name: str, times: list[float]) -> str:
    return (f"{name:8} n={len(times):5}  p50 {statistics.median(times) * 1e3:9.3f} ms  max {max(times) * 1e3:9.3f} ms"
            f"  {len(times) / sum(times):12,.0f} decisions/s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policies", type=int, default=30)
    p.add_argument("--facts", type=int, default=18)
    p.add_argument("--rules", type=int, default=6)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--policy", help="time one policy file instead of generated ones")
    p.add_argument("--query", default=json.dumps(QUERY), help="the question asked of --policy (JSON)")
    args = p.parse_args()
    print(f"BDD backend: {bdd.BACKEND}")
    if args.policy:
        text = Path(args.policy).read_text(encoding="utf-8")
        texts = [text]
        query = json.loads(args.query)
    else:
        rng = random.Random(args.seed)
        texts = [generate(args.facts, args.rules, rng) for _ in range(args.policies)]
        query = QUERY
    open_q = {k: v for k, v in query.items() if k != "facts"}
    cold, warm, closed, load = [], [], [], []
    decisions: dict[str, int] = {}
    rng = random.Random(args.seed)
    for text in texts:
        start = time.perf_counter()
        policy = policy_engine.loads(text, "bench.policy")
        load.append(time.perf_counter() - start)
        facts = [t["id"] for t in policy.vocabulary()["fact"]]
        answer = []
        cold.append(timed(lambda: answer.append(policy.decide(open_q))))
        decisions[answer[0].decision] = decisions.get(answer[0].decision, 0) + 1
        warm += [timed(lambda: policy.decide(open_q)) for _ in range(200)]
        for _ in range(200):
            q = {**open_q, "facts": [f for f in facts if rng.random() < 0.5]}
            closed.append(timed(lambda: policy.decide(q)))
    print(f"{len(texts)} policies, decisions {decisions}")
    print(row("load", load))
    print(row("cold", cold))
    print(row("warm", warm))
    print(row("closed", closed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
